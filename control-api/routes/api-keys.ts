import { and, asc, eq, inArray, isNull } from 'drizzle-orm';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { apiKeys, environments } from '../../db/schema.js';
import { audit } from '../audit.js';
import { principalOf, visibleEnvironment, visibleOrganization } from '../auth.js';
import type { ApiDeps } from '../deps.js';
import { generateKey } from '../keys.js';
import { conflict, notFound } from '../problems.js';
import { envParams, orgParams } from '../schemas.js';

type KeyRow = typeof apiKeys.$inferSelect;
const DAY_MS = 24 * 60 * 60 * 1000;

const keyView = (row: KeyRow) => ({
  id: row.id,
  kind: row.kind,
  prefix: row.prefix,
  environmentId: row.environmentId,
  createdAt: row.createdAt.toISOString(),
  lastUsedAt: row.lastUsedAt?.toISOString() ?? null,
  expiresAt: row.expiresAt?.toISOString() ?? null,
  revokedAt: row.revokedAt?.toISOString() ?? null,
});

const keyParams = orgParams.extend({ key: z.uuid() });

/** Environment keys: issued, listed, revoked and rotated by the organization's admin key or the operator. */
export function apiKeyRoutes(deps: ApiDeps): FastifyPluginAsyncZod {
  const { db } = deps;

  async function loadKey(principal: ReturnType<typeof principalOf>, params: z.infer<typeof keyParams>) {
    const org = await visibleOrganization(db, principal, params.org, 'admin');
    const [row] = await db
      .select()
      .from(apiKeys)
      .where(and(eq(apiKeys.id, params.key), eq(apiKeys.organizationId, org.id)));
    if (!row || row.kind !== 'environment') throw notFound(`API key ${params.key}`);
    return { org, row };
  }

  return async (app) => {
    app.post(
      '/v1/organizations/:org/environments/:env/api-keys',
      {
        schema: {
          summary: 'Issue an environment-scoped API key (shown once)',
          params: envParams,
          body: z
            .object({ expiresInDays: z.number().int().min(1).max(366).optional() })
            .strict()
            .optional(),
        },
      },
      async (request, reply) => {
        const principal = principalOf(request);
        await visibleOrganization(db, principal, request.params.org, 'admin');
        const { org, env } = await visibleEnvironment(db, principal, request.params);
        if (env.status === 'retired' || env.status === 'retiring')
          throw conflict('environment-retired', `environment ${org.slug}/${env.slug} is ${env.status}`);
        const days = request.body?.expiresInDays;
        const key = generateKey('environment');
        const row = await db.transaction(async (tx) => {
          const [created] = await tx
            .insert(apiKeys)
            .values({
              kind: 'environment',
              organizationId: org.id,
              environmentId: env.id,
              prefix: key.prefix,
              secretHash: key.secretHash,
              expiresAt: days ? new Date(Date.now() + days * DAY_MS) : null,
            })
            .returning();
          await audit(tx, {
            actorKeyId: principal.keyId,
            action: 'api_key.created',
            organizationId: org.id,
            environmentId: env.id,
            target: key.prefix,
            details: { keyId: created!.id },
          });
          return created!;
        });
        return reply.code(201).send({ ...keyView(row), key: key.key });
      },
    );

    app.get(
      '/v1/organizations/:org/api-keys',
      {
        schema: {
          summary: "List the organization's environment keys (never the secrets)",
          params: orgParams,
        },
      },
      async (request) => {
        const org = await visibleOrganization(db, principalOf(request), request.params.org, 'admin');
        const envIds = db
          .select({ id: environments.id })
          .from(environments)
          .where(eq(environments.organizationId, org.id));
        const rows = await db
          .select()
          .from(apiKeys)
          .where(inArray(apiKeys.environmentId, envIds))
          .orderBy(asc(apiKeys.createdAt));
        return { apiKeys: rows.map(keyView) };
      },
    );

    app.delete(
      '/v1/organizations/:org/api-keys/:key',
      { schema: { summary: 'Revoke an environment key', params: keyParams } },
      async (request) => {
        const principal = principalOf(request);
        const { org, row } = await loadKey(principal, request.params);
        const [revoked] = await db
          .update(apiKeys)
          .set({ revokedAt: new Date() })
          .where(and(eq(apiKeys.id, row.id), isNull(apiKeys.revokedAt)))
          .returning();
        if (!revoked) throw conflict('already-revoked', `API key ${row.prefix} is already revoked`);
        await audit(db, {
          actorKeyId: principal.keyId,
          action: 'api_key.revoked',
          organizationId: org.id,
          environmentId: row.environmentId,
          target: row.prefix,
          details: { keyId: row.id },
        });
        return keyView(revoked);
      },
    );

    app.post(
      '/v1/organizations/:org/api-keys/:key/rotate',
      {
        schema: {
          summary: 'Replace an environment key: the new key is shown once, the old one stops working now',
          params: keyParams,
        },
      },
      async (request, reply) => {
        const principal = principalOf(request);
        const { org, row } = await loadKey(principal, request.params);
        if (row.revokedAt)
          throw conflict('already-revoked', `API key ${row.prefix} is revoked; issue a new one`);
        const key = generateKey('environment');
        const created = await db.transaction(async (tx) => {
          await tx.update(apiKeys).set({ revokedAt: new Date() }).where(eq(apiKeys.id, row.id));
          const lifetime = row.expiresAt ? row.expiresAt.getTime() - row.createdAt.getTime() : null;
          const [next] = await tx
            .insert(apiKeys)
            .values({
              kind: 'environment',
              organizationId: org.id,
              environmentId: row.environmentId,
              prefix: key.prefix,
              secretHash: key.secretHash,
              expiresAt: lifetime ? new Date(Date.now() + lifetime) : null,
            })
            .returning();
          await audit(tx, {
            actorKeyId: principal.keyId,
            action: 'api_key.rotated',
            organizationId: org.id,
            environmentId: row.environmentId,
            target: row.prefix,
            details: { keyId: row.id, replacedBy: next!.id },
          });
          return next!;
        });
        return reply.code(201).send({ ...keyView(created), key: key.key });
      },
    );
  };
}
