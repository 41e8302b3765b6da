import { eq } from 'drizzle-orm';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { quotasSchema } from '../../common/config.js';
import { organizations } from '../../db/schema.js';
import { audit } from '../audit.js';
import { principalOf, requireOperator, visibleOrganization } from '../auth.js';
import type { ApiDeps } from '../deps.js';
import { quotasOf, usageOf } from '../limits/quotas.js';
import { jsonResponse, problemResponses } from '../openapi.js';
import { quotasViewSchema } from '../openapi-schemas.js';
import { orgParams } from '../schemas.js';

/** A figure sets the organization's own quota; null returns it to the configured default. */
const figure = z.number().int().min(0).max(1_000_000).nullable().optional();
const quotaChanges = z
  .object(
    Object.fromEntries(Object.keys(quotasSchema.shape).map((name) => [name, figure])) as Record<
      keyof typeof quotasSchema.shape,
      typeof figure
    >,
  )
  .strict();

/** Quotas per organization: read by its admin key, set by the operator. */
export function quotaRoutes(deps: ApiDeps): FastifyPluginAsyncZod {
  const { db, config, counters } = deps;

  async function view(org: typeof organizations.$inferSelect) {
    return {
      organization: org.slug,
      quotas: quotasOf(config.quotas, org),
      overrides: org.quotas ?? {},
      usage: await usageOf(db, counters, org.id),
    };
  }

  return async (app) => {
    app.get(
      '/v1/organizations/:org/quotas',
      {
        schema: {
          operationId: 'getQuotas',
          tags: ['quotas'],
          summary: "Read the organization's quotas, which of them the operator set, and what it uses",
          params: orgParams,
          response: {
            200: jsonResponse("The quotas in force, the operator's figures, and the usage", quotasViewSchema),
            ...problemResponses('input', { 403: ['forbidden'], 404: ['not-found'] }),
          },
        },
      },
      async (request) =>
        view(await visibleOrganization(db, principalOf(request), request.params.org, 'admin')),
    );

    app.patch(
      '/v1/organizations/:org/quotas',
      {
        schema: {
          operationId: 'updateQuotas',
          tags: ['quotas'],
          summary: "Set the organization's own quotas (operator key); null returns one to the default",
          params: orgParams,
          body: quotaChanges,
          response: {
            200: jsonResponse('The quotas, as changed', quotasViewSchema),
            ...problemResponses('body', { 403: ['forbidden'], 404: ['not-found'] }),
          },
        },
      },
      async (request) => {
        const principal = principalOf(request);
        requireOperator(principal);
        const org = await visibleOrganization(db, principal, request.params.org, 'admin');
        const updated = await db.transaction(async (tx) => {
          const [current] = await tx
            .select()
            .from(organizations)
            .where(eq(organizations.id, org.id))
            .for('update');
          const overrides: Record<string, number> = { ...current!.quotas };
          for (const [name, figure] of Object.entries(request.body)) {
            if (figure === null) delete overrides[name];
            else if (figure !== undefined) overrides[name] = figure;
          }
          const [row] = await tx
            .update(organizations)
            .set({ quotas: Object.keys(overrides).length > 0 ? overrides : null })
            .where(eq(organizations.id, org.id))
            .returning();
          await audit(tx, {
            actorKeyId: principal.keyId,
            action: 'organization.quotas_changed',
            organizationId: org.id,
            target: org.slug,
            details: { before: current!.quotas ?? {}, after: overrides },
          });
          return row!;
        });
        return view(updated);
      },
    );
  };
}
