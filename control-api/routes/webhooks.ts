import { randomUUID } from 'node:crypto';
import { and, count, eq, inArray, isNull, sql } from 'drizzle-orm';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { webhookDeliveries, webhookEndpoints } from '../../db/schema.js';
import { WEBHOOK_EVENTS } from '../../common/webhooks.js';
import { audit } from '../audit.js';
import { assertEnvironmentHolding, lockQuota, organizationQuotas } from '../limits/quotas.js';
import { principalOf, visibleEnvironment } from '../auth.js';
import type { ApiDeps } from '../deps.js';
import { jsonResponse, link, problemResponses } from '../openapi.js';
import { notFound } from '../problems.js';
import {
  updatedWebhookEndpointSchema,
  webhookEndpointListSchema,
  webhookEndpointSchema,
  webhookEndpointWithSecretSchema,
} from '../openapi-schemas.js';
import { envParams } from '../schemas.js';
import {
  assertWebhookUrlAllowed,
  endpointView,
  liveEndpoint,
  sealSigningSecret,
} from '../webhooks/endpoints.js';
import { sealTargetOf } from '../vault.js';
import { pendingDeliveries } from '../webhooks/deliveries.js';

const events = z
  .array(z.enum(WEBHOOK_EVENTS))
  .min(1)
  .transform((list) => [...new Set(list)]);
const url = z.url().max(2048);
const description = z.string().max(500);

const createBody = z.object({ url, events, description: description.optional() }).strict();
const updateBody = z
  .object({ url: url.optional(), events: events.optional(), description: description.nullable().optional() })
  .strict();
const endpointParams = envParams.extend({ endpoint: z.uuid() });

const endpointOfResponse = {
  org: '$request.path.org',
  env: '$request.path.env',
  endpoint: '$response.body#/id',
};
const createdEndpointLinks = {
  rotateWebhookSecret: link('rotateWebhookSecret', endpointOfResponse, 'Rotate the signing secret'),
  listWebhookDeliveries: link('listWebhookDeliveries', endpointOfResponse, "List the endpoint's deliveries"),
};

/**
 * An environment's webhook endpoints: registered, read, changed, deleted, and their signing
 * secrets rotated. A secret is answered once and sealed into the environment's bucket for the
 * endpoint's host; the control database holds its version only.
 */
export function webhookRoutes(deps: ApiDeps): FastifyPluginAsyncZod {
  const base = '/v1/organizations/:org/environments/:env';
  return async (app) => {
    app.post(
      `${base}/webhook-endpoints`,
      {
        schema: {
          operationId: 'createWebhookEndpoint',
          tags: ['webhooks'],
          summary:
            'Register a webhook endpoint; its signing secret is answered this once and sealed, never stored',
          params: envParams,
          body: createBody,
          response: {
            201: jsonResponse(
              'The endpoint, with its signing secret shown once',
              webhookEndpointWithSecretSchema,
            ),
            ...problemResponses('body', {
              403: ['quota-exceeded'],
              404: ['not-found'],
              409: ['environment-not-active'],
              422: ['webhook-url-refused'],
            }),
          },
        },
        links: { 201: createdEndpointLinks },
      },
      async (request, reply) => {
        const principal = principalOf(request);
        const { org, env } = await visibleEnvironment(deps.db, principal, request.params);
        const vault = sealTargetOf(org.slug, env);
        const body = request.body;
        await assertWebhookUrlAllowed(deps.config, body.url);
        const id = randomUUID();
        const { row, secret } = await deps.db.transaction(async (tx) => {
          await lockQuota(tx, `webhook-endpoints:${env.id}`);
          const [held] = await tx
            .select({ n: count() })
            .from(webhookEndpoints)
            .where(and(eq(webhookEndpoints.environmentId, env.id), isNull(webhookEndpoints.deletedAt)));
          const quotas = await organizationQuotas(tx, deps.config.quotas, env.organizationId);
          assertEnvironmentHolding(quotas, 'webhookEndpointsPerEnvironment', held!.n);
          const [created] = await tx
            .insert(webhookEndpoints)
            .values({
              id,
              environmentId: env.id,
              url: body.url,
              events: body.events,
              description: body.description ?? null,
              createdByKeyId: principal.keyId,
            })
            .returning();
          await audit(tx, {
            actorKeyId: principal.keyId,
            action: 'webhook_endpoint.created',
            organizationId: org.id,
            environmentId: env.id,
            target: id,
            details: { host: new URL(body.url).host, events: body.events },
          });
          // Sealing is the last step: only the commit can still fail after the secret is live.
          return { row: created!, secret: await sealSigningSecret(deps.accounts, vault, id, body.url) };
        });
        return reply.code(201).send({ ...endpointView(row), secret });
      },
    );

    app.get(
      `${base}/webhook-endpoints`,
      {
        schema: {
          operationId: 'listWebhookEndpoints',
          tags: ['webhooks'],
          summary: "List an environment's webhook endpoints (never their secrets)",
          params: envParams,
          response: {
            200: jsonResponse('The endpoints, oldest first', webhookEndpointListSchema),
            ...problemResponses('input', { 404: ['not-found'] }),
          },
        },
      },
      async (request) => {
        const { env } = await visibleEnvironment(deps.db, principalOf(request), request.params);
        const rows = await deps.db
          .select()
          .from(webhookEndpoints)
          .where(and(eq(webhookEndpoints.environmentId, env.id), isNull(webhookEndpoints.deletedAt)))
          .orderBy(webhookEndpoints.createdAt);
        return { endpoints: rows.map(endpointView) };
      },
    );

    app.get(
      `${base}/webhook-endpoints/:endpoint`,
      {
        schema: {
          operationId: 'getWebhookEndpoint',
          tags: ['webhooks'],
          summary: 'Read a webhook endpoint (never its secret)',
          params: endpointParams,
          response: {
            200: jsonResponse('The endpoint', webhookEndpointSchema),
            ...problemResponses('input', { 404: ['not-found'] }),
          },
        },
      },
      async (request) => {
        const { env } = await visibleEnvironment(deps.db, principalOf(request), request.params);
        return endpointView(await liveEndpoint(deps.db, env, request.params.endpoint));
      },
    );

    app.patch(
      `${base}/webhook-endpoints/:endpoint`,
      {
        schema: {
          operationId: 'updateWebhookEndpoint',
          tags: ['webhooks'],
          summary:
            'Change a webhook endpoint; a new URL gets a new signing secret (answered once), sealed for its host',
          params: endpointParams,
          body: updateBody,
          response: {
            200: jsonResponse(
              'The endpoint, with a new secret when its URL changed',
              updatedWebhookEndpointSchema,
            ),
            ...problemResponses('body', {
              404: ['not-found'],
              409: ['environment-not-active'],
              422: ['webhook-url-refused'],
            }),
          },
        },
      },
      async (request) => {
        const principal = principalOf(request);
        const { org, env } = await visibleEnvironment(deps.db, principal, request.params);
        // Only an active environment's endpoints change (as only an active one registers them).
        const vault = sealTargetOf(org.slug, env);
        const current = await liveEndpoint(deps.db, env, request.params.endpoint);
        const body = request.body;
        const newUrl = body.url !== undefined && body.url !== current.url ? body.url : undefined;
        if (newUrl) await assertWebhookUrlAllowed(deps.config, newUrl);
        const { row, secret } = await deps.db.transaction(async (tx) => {
          const [updated] = await tx
            .update(webhookEndpoints)
            .set({
              ...(newUrl ? { url: newUrl, secretVersion: sql`${webhookEndpoints.secretVersion} + 1` } : {}),
              ...(body.events ? { events: body.events } : {}),
              ...(body.description !== undefined ? { description: body.description } : {}),
              updatedAt: new Date(),
            })
            .where(eq(webhookEndpoints.id, current.id))
            .returning();
          await audit(tx, {
            actorKeyId: principal.keyId,
            action: 'webhook_endpoint.updated',
            organizationId: org.id,
            environmentId: env.id,
            target: current.id,
            details: {
              ...(newUrl ? { host: new URL(newUrl).host, secretVersion: updated!.secretVersion } : {}),
              ...(body.events ? { events: body.events } : {}),
            },
          });
          // The control plane cannot read the sealed secret back: a new host gets a new secret.
          const sealed = newUrl
            ? await sealSigningSecret(deps.accounts, vault, current.id, newUrl)
            : undefined;
          return { row: updated!, secret: sealed };
        });
        return { ...endpointView(row), ...(secret ? { secret } : {}) };
      },
    );

    app.delete(
      `${base}/webhook-endpoints/:endpoint`,
      {
        schema: {
          operationId: 'deleteWebhookEndpoint',
          tags: ['webhooks'],
          summary: 'Delete a webhook endpoint: nothing more is delivered to it, its pending deliveries stop',
          params: endpointParams,
          response: {
            200: jsonResponse('The endpoint, deleted', webhookEndpointSchema),
            ...problemResponses('input', { 404: ['not-found'] }),
          },
        },
      },
      async (request) => {
        const principal = principalOf(request);
        const { org, env } = await visibleEnvironment(deps.db, principal, request.params);
        const current = await liveEndpoint(deps.db, env, request.params.endpoint);
        const { row, pending } = await deps.db.transaction(async (tx) => {
          // Read in the transaction that deletes it; a delivery queued by another transaction
          // meanwhile is ended by the dispatcher, which skips deliveries of deleted endpoints.
          const [deleted] = await tx
            .update(webhookEndpoints)
            .set({ deletedAt: new Date(), updatedAt: new Date() })
            .where(and(eq(webhookEndpoints.id, current.id), isNull(webhookEndpoints.deletedAt)))
            .returning();
          if (!deleted) throw notFound(`webhook endpoint ${current.id}`);
          const pending = await pendingDeliveries(tx, current.id);
          if (pending.length > 0)
            await tx
              .update(webhookDeliveries)
              .set({ status: 'failed', completedAt: new Date() })
              .where(
                and(
                  inArray(
                    webhookDeliveries.id,
                    pending.map((p) => p.id),
                  ),
                  inArray(webhookDeliveries.status, ['queued', 'delivering']),
                ),
              );
          await audit(tx, {
            actorKeyId: principal.keyId,
            action: 'webhook_endpoint.deleted',
            organizationId: org.id,
            environmentId: env.id,
            target: current.id,
            details: { deliveriesStopped: pending.length },
          });
          return { row: deleted, pending };
        });
        // Their workflows stop: the delivering ones, and the queued ones too, which a dispatch may
        // have started meanwhile (a workflow that never started or already ended has nothing to
        // cancel). A dispatch after the commit skips them: they ended failed, their endpoint deleted.
        for (const delivery of pending)
          await deps.temporal
            .inNamespace(env.namespace, 'write', (client) =>
              client.workflow.getHandle(delivery.workflowId).cancel(),
            )
            .catch(() => undefined);
        return endpointView(row);
      },
    );

    app.post(
      `${base}/webhook-endpoints/:endpoint/rotate-secret`,
      {
        schema: {
          operationId: 'rotateWebhookSecret',
          tags: ['webhooks'],
          summary:
            'Replace the signing secret: the new one is answered once and signs every attempt from now on; the old one stops at once',
          params: endpointParams,
          response: {
            200: jsonResponse(
              'The endpoint, with its new signing secret shown once',
              webhookEndpointWithSecretSchema,
            ),
            ...problemResponses('input', { 404: ['not-found'], 409: ['environment-not-active'] }),
          },
        },
      },
      async (request) => {
        const principal = principalOf(request);
        const { org, env } = await visibleEnvironment(deps.db, principal, request.params);
        const vault = sealTargetOf(org.slug, env);
        const current = await liveEndpoint(deps.db, env, request.params.endpoint);
        const { row, secret } = await deps.db.transaction(async (tx) => {
          const [rotated] = await tx
            .update(webhookEndpoints)
            .set({ secretVersion: sql`${webhookEndpoints.secretVersion} + 1`, updatedAt: new Date() })
            .where(eq(webhookEndpoints.id, current.id))
            .returning();
          await audit(tx, {
            actorKeyId: principal.keyId,
            action: 'webhook_endpoint.secret_rotated',
            organizationId: org.id,
            environmentId: env.id,
            target: current.id,
            details: { secretVersion: rotated!.secretVersion },
          });
          return {
            row: rotated!,
            secret: await sealSigningSecret(deps.accounts, vault, current.id, current.url),
          };
        });
        return { ...endpointView(row), secret };
      },
    );
  };
}
