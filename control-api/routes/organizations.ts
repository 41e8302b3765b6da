import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { organizations } from '../../db/schema.js';
import { audit } from '../audit.js';
import { principalOf, requireOperator, visibleOrganization } from '../auth.js';
import type { ApiDeps } from '../deps.js';
import { issueKey } from '../key-lifecycle.js';
import { conflict } from '../problems.js';
import { orgParams, slug } from '../schemas.js';

type Org = typeof organizations.$inferSelect;
const orgView = (org: Org) => ({
  id: org.id,
  slug: org.slug,
  name: org.name,
  createdAt: org.createdAt.toISOString(),
});

export function organizationRoutes(deps: ApiDeps): FastifyPluginAsyncZod {
  return async (app) => {
    app.post(
      '/v1/organizations',
      {
        schema: {
          summary: 'Create an organization (operator key); answers with its first admin key, shown once',
          body: z.object({ slug, name: z.string().min(1).max(200).optional() }).strict(),
        },
      },
      async (request, reply) => {
        const principal = principalOf(request);
        requireOperator(principal);
        const result = await deps.db.transaction(async (tx) => {
          const [org] = await tx
            .insert(organizations)
            .values({ slug: request.body.slug, name: request.body.name ?? request.body.slug })
            .onConflictDoNothing()
            .returning();
          if (!org) throw conflict('duplicate-slug', `organization ${request.body.slug} already exists`);
          await audit(tx, {
            actorKeyId: principal.keyId,
            action: 'organization.created',
            organizationId: org.id,
            target: org.slug,
          });
          const apiKey = await issueKey(
            tx,
            principal,
            { kind: 'organization', organizationId: org.id },
            null,
          );
          return { org, apiKey };
        });
        return reply.code(201).send({ organization: orgView(result.org), apiKey: result.apiKey });
      },
    );

    app.get(
      '/v1/organizations/:org',
      { schema: { summary: 'Read an organization', params: orgParams } },
      async (request) => {
        const org = await visibleOrganization(deps.db, principalOf(request), request.params.org, 'admin');
        return orgView(org);
      },
    );
  };
}
