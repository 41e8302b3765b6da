import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { organizations } from '../../db/schema.js';
import { audit } from '../audit.js';
import { principalOf, requireOperator, visibleOrganization } from '../auth.js';
import type { ApiDeps } from '../deps.js';
import { issueKey } from '../key-lifecycle.js';
import { conflict } from '../problems.js';
import { jsonResponse, link, problemResponses } from '../openapi.js';
import { createdOrganizationSchema, organizationSchema } from '../openapi-schemas.js';
import { orgParams, slug } from '../schemas.js';

type Org = typeof organizations.$inferSelect;
export const orgView = (org: Org) => ({
  id: org.id,
  slug: org.slug,
  name: org.name,
  createdAt: org.createdAt.toISOString(),
});

const org = '$response.body#/organization/slug';
const createdOrganizationLinks = {
  getOrganization: link('getOrganization', { org }, 'Read the organization'),
  createEnvironment: link('createEnvironment', { org }, 'Create an environment in it'),
  getQuotas: link('getQuotas', { org }, 'Read its quotas'),
  listOrganizationApiKeys: link('listOrganizationApiKeys', { org }, 'List its keys'),
  rotateOrganizationApiKey: link(
    'rotateOrganizationApiKey',
    { org, key: '$response.body#/apiKey/id' },
    'Rotate its first admin key',
  ),
  revokeOrganizationApiKey: link(
    'revokeOrganizationApiKey',
    { org, key: '$response.body#/apiKey/id' },
    'Revoke its first admin key',
  ),
};

export function organizationRoutes(deps: ApiDeps): FastifyPluginAsyncZod {
  return async (app) => {
    app.post(
      '/v1/organizations',
      {
        schema: {
          operationId: 'createOrganization',
          tags: ['organizations'],
          summary: 'Create an organization (operator key); answers with its first admin key, shown once',
          body: z.object({ slug, name: z.string().min(1).max(200).optional() }).strict(),
          response: {
            201: jsonResponse(
              'The organization, and its first admin key (shown once)',
              createdOrganizationSchema,
            ),
            ...problemResponses('body', { 403: ['forbidden'], 409: ['duplicate-slug'] }),
          },
        },
        links: { 201: createdOrganizationLinks },
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
      {
        schema: {
          operationId: 'getOrganization',
          tags: ['organizations'],
          summary: 'Read an organization',
          params: orgParams,
          response: {
            200: jsonResponse('The organization', organizationSchema),
            ...problemResponses('input', { 403: ['forbidden'], 404: ['not-found'] }),
          },
        },
      },
      async (request) => {
        const org = await visibleOrganization(deps.db, principalOf(request), request.params.org, 'admin');
        return orgView(org);
      },
    );
  };
}
