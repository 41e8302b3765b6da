import { and, eq, inArray } from 'drizzle-orm';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { apiKeys } from '../../db/schema.js';
import { principalOf, visibleEnvironment, visibleOrganization } from '../auth.js';
import type { ApiDeps } from '../deps.js';
import {
  issueBody,
  issueKeyNow,
  issueResponses,
  listKeys,
  revokeKey,
  revokeResponses,
  rotateBody,
  rotateKey,
  rotateResponses,
} from '../key-lifecycle.js';
import { conflict, notFound } from '../problems.js';
import { jsonResponse, link, problemResponses } from '../openapi.js';
import { apiKeyListSchema } from '../openapi-schemas.js';
import { envParams, orgParams } from '../schemas.js';

const keyParams = orgParams.extend({ key: z.uuid() });
const ORGANIZATION_KINDS = ['organization', 'environment'] as const;

/** From a key just issued (or a rotation's successor) to what is done with it next. */
const issuedKeyLinks = {
  rotateOrganizationApiKey: link(
    'rotateOrganizationApiKey',
    { org: '$request.path.org', key: '$response.body#/id' },
    'Rotate the key',
  ),
  revokeOrganizationApiKey: link(
    'revokeOrganizationApiKey',
    { org: '$request.path.org', key: '$response.body#/id' },
    'Revoke the key',
  ),
};

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
          operationId: 'createOrganizationApiKey',
          tags: ['api-keys'],
          summary: 'Issue another organization admin key (shown once)',
          params: orgParams,
          body: issueBody.optional(),
          response: issueResponses({ 403: ['forbidden'], 404: ['not-found'] }),
        },
        links: { 201: issuedKeyLinks },
      },
      async (request, reply) => {
        const principal = principalOf(request);
        const org = await visibleOrganization(db, principal, request.params.org, 'admin');
        const issued = await issueKeyNow(
          db,
          principal,
          { kind: 'organization', organizationId: org.id },
          request.body?.expiresInDays,
        );
        return reply.code(201).send(issued);
      },
    );

    app.post(
      '/v1/organizations/:org/environments/:env/api-keys',
      {
        schema: {
          operationId: 'createEnvironmentApiKey',
          tags: ['api-keys'],
          summary: 'Issue an environment-scoped API key (shown once)',
          params: envParams,
          body: issueBody.optional(),
          response: issueResponses({
            403: ['forbidden'],
            404: ['not-found'],
            409: ['environment-retired'],
          }),
        },
        links: { 201: issuedKeyLinks },
      },
      async (request, reply) => {
        const principal = principalOf(request);
        await visibleOrganization(db, principal, request.params.org, 'admin');
        const { org, env } = await visibleEnvironment(db, principal, request.params);
        if (env.status === 'retired' || env.status === 'retiring')
          throw conflict('environment-retired', `environment ${org.slug}/${env.slug} is ${env.status}`);
        const issued = await issueKeyNow(
          db,
          principal,
          { kind: 'environment', organizationId: org.id, environmentId: env.id },
          request.body?.expiresInDays,
        );
        return reply.code(201).send(issued);
      },
    );

    app.get(
      '/v1/organizations/:org/api-keys',
      {
        schema: {
          operationId: 'listOrganizationApiKeys',
          tags: ['api-keys'],
          summary: "List the organization's admin and environment keys (never the secrets)",
          params: orgParams,
          querystring: z.object({ kind: z.enum(ORGANIZATION_KINDS).optional() }).strict(),
          response: {
            200: jsonResponse('The keys, oldest first', apiKeyListSchema),
            ...problemResponses('input', { 403: ['forbidden'], 404: ['not-found'] }),
          },
        },
      },
      async (request) => {
        const org = await visibleOrganization(db, principalOf(request), request.params.org, 'admin');
        const kinds = request.query.kind ? [request.query.kind] : [...ORGANIZATION_KINDS];
        return listKeys(db, and(eq(apiKeys.organizationId, org.id), inArray(apiKeys.kind, kinds)));
      },
    );

    app.delete(
      '/v1/organizations/:org/api-keys/:key',
      {
        schema: {
          operationId: 'revokeOrganizationApiKey',
          tags: ['api-keys'],
          summary: 'Revoke an organization admin or environment key',
          params: keyParams,
          response: revokeResponses,
        },
      },
      async (request) => {
        const principal = principalOf(request);
        return revokeKey(db, principal, await loadKey(principal, request.params));
      },
    );

    app.post(
      '/v1/organizations/:org/api-keys/:key/rotate',
      {
        schema: {
          operationId: 'rotateOrganizationApiKey',
          tags: ['api-keys'],
          summary:
            'Replace an organization admin or environment key: the new key is shown once; the old one stops now, or after the overlap',
          params: keyParams,
          body: rotateBody.optional(),
          response: rotateResponses,
        },
        links: { 201: issuedKeyLinks },
      },
      async (request, reply) => {
        const principal = principalOf(request);
        const row = await loadKey(principal, request.params);
        return reply.code(201).send(await rotateKey(db, principal, row, request.body ?? {}));
      },
    );
  };
}
