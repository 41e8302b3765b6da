import { and, asc, eq, inArray } from 'drizzle-orm';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { apiKeys } from '../../db/schema.js';
import { principalOf, visibleEnvironment, visibleOrganization } from '../auth.js';
import type { ApiDeps } from '../deps.js';
import {
  expiryIn,
  issueBody,
  issueKey,
  keyView,
  revokeKey,
  rotateBody,
  rotateKey,
} from '../key-lifecycle.js';
import { conflict, notFound } from '../problems.js';
import { envParams, orgParams } from '../schemas.js';

const keyParams = orgParams.extend({ key: z.uuid() });
const ORGANIZATION_KINDS = ['organization', 'environment'] as const;

/**
 * An organization's keys, its admin keys and its environments': issued, listed, revoked and rotated
 * by the organization's admin key or the operator.
 */
export function apiKeyRoutes(deps: ApiDeps): FastifyPluginAsyncZod {
  const { db } = deps;

  async function loadKey(principal: ReturnType<typeof principalOf>, params: z.infer<typeof keyParams>) {
    const org = await visibleOrganization(db, principal, params.org, 'admin');
    const [row] = await db
      .select()
      .from(apiKeys)
      .where(
        and(
          eq(apiKeys.id, params.key),
          eq(apiKeys.organizationId, org.id),
          inArray(apiKeys.kind, ORGANIZATION_KINDS),
        ),
      );
    if (!row) throw notFound(`API key ${params.key}`);
    return row;
  }

  return async (app) => {
    app.post(
      '/v1/organizations/:org/api-keys',
      {
        schema: {
          summary: 'Issue another organization admin key (shown once)',
          params: orgParams,
          body: issueBody.optional(),
        },
      },
      async (request, reply) => {
        const principal = principalOf(request);
        const org = await visibleOrganization(db, principal, request.params.org, 'admin');
        const issued = await db.transaction((tx) =>
          issueKey(
            tx,
            principal,
            { kind: 'organization', organizationId: org.id },
            expiryIn(request.body?.expiresInDays),
          ),
        );
        return reply.code(201).send(issued);
      },
    );

    app.post(
      '/v1/organizations/:org/environments/:env/api-keys',
      {
        schema: {
          summary: 'Issue an environment-scoped API key (shown once)',
          params: envParams,
          body: issueBody.optional(),
        },
      },
      async (request, reply) => {
        const principal = principalOf(request);
        await visibleOrganization(db, principal, request.params.org, 'admin');
        const { org, env } = await visibleEnvironment(db, principal, request.params);
        if (env.status === 'retired' || env.status === 'retiring')
          throw conflict('environment-retired', `environment ${org.slug}/${env.slug} is ${env.status}`);
        const issued = await db.transaction((tx) =>
          issueKey(
            tx,
            principal,
            { kind: 'environment', organizationId: org.id, environmentId: env.id },
            expiryIn(request.body?.expiresInDays),
          ),
        );
        return reply.code(201).send(issued);
      },
    );

    app.get(
      '/v1/organizations/:org/api-keys',
      {
        schema: {
          summary: "List the organization's admin and environment keys (never the secrets)",
          params: orgParams,
          querystring: z.object({ kind: z.enum(ORGANIZATION_KINDS).optional() }).strict(),
        },
      },
      async (request) => {
        const org = await visibleOrganization(db, principalOf(request), request.params.org, 'admin');
        const kinds = request.query.kind ? [request.query.kind] : [...ORGANIZATION_KINDS];
        const rows = await db
          .select()
          .from(apiKeys)
          .where(and(eq(apiKeys.organizationId, org.id), inArray(apiKeys.kind, kinds)))
          .orderBy(asc(apiKeys.createdAt));
        return { apiKeys: rows.map(keyView) };
      },
    );

    app.delete(
      '/v1/organizations/:org/api-keys/:key',
      { schema: { summary: 'Revoke an organization admin or environment key', params: keyParams } },
      async (request) => {
        const principal = principalOf(request);
        return revokeKey(db, principal, await loadKey(principal, request.params));
      },
    );

    app.post(
      '/v1/organizations/:org/api-keys/:key/rotate',
      {
        schema: {
          summary:
            'Replace an organization admin or environment key: the new key is shown once; the old one stops now, or after the overlap',
          params: keyParams,
          body: rotateBody.optional(),
        },
      },
      async (request, reply) => {
        const principal = principalOf(request);
        const row = await loadKey(principal, request.params);
        return reply.code(201).send(await rotateKey(db, principal, row, request.body ?? {}));
      },
    );
  };
}
