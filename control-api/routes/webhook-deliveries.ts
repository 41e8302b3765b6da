import { and, desc, eq } from 'drizzle-orm';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { webhookDeliveries } from '../../db/schema.js';
import { audit } from '../audit.js';
import { principalOf, visibleEnvironment } from '../auth.js';
import type { ApiDeps } from '../deps.js';
import { assertEnvironmentActive, notFound } from '../problems.js';
import { jsonResponse, problemResponses } from '../openapi.js';
import { webhookDeliveryListSchema, webhookDeliverySchema } from '../openapi-schemas.js';
import { envParams } from '../schemas.js';
import { liveEndpoint } from '../webhooks/endpoints.js';
import { deliveryView, queueRedelivery } from '../webhooks/deliveries.js';

const endpointParams = envParams.extend({ endpoint: z.uuid() });
const deliveryParams = envParams.extend({ delivery: z.uuid() });

/** An environment's webhook deliveries: listed per endpoint, read, and sent again. */
export function webhookDeliveryRoutes(deps: ApiDeps): FastifyPluginAsyncZod {
  const base = '/v1/organizations/:org/environments/:env';
  return async (app) => {
    app.get(
      `${base}/webhook-endpoints/:endpoint/deliveries`,
      {
        schema: {
          operationId: 'listWebhookDeliveries',
          tags: ['webhooks'],
          summary: "List an endpoint's deliveries, newest first, with their attempts",
          params: endpointParams,
          querystring: z.object({ limit: z.coerce.number().int().min(1).max(200).default(50) }),
          response: {
            200: jsonResponse('The deliveries, newest first', webhookDeliveryListSchema),
            ...problemResponses('input', { 404: ['not-found'] }),
          },
        },
      },
      async (request) => {
        const { env } = await visibleEnvironment(deps.db, principalOf(request), request.params);
        const endpoint = await liveEndpoint(deps.db, env, request.params.endpoint);
        const rows = await deps.db
          .select()
          .from(webhookDeliveries)
          .where(eq(webhookDeliveries.endpointId, endpoint.id))
          .orderBy(desc(webhookDeliveries.createdAt))
          .limit(request.query.limit);
        return { deliveries: rows.map(deliveryView) };
      },
    );

    async function loadDelivery(env: { id: string }, deliveryId: string) {
      const [row] = await deps.db
        .select()
        .from(webhookDeliveries)
        .where(and(eq(webhookDeliveries.id, deliveryId), eq(webhookDeliveries.environmentId, env.id)));
      if (!row) throw notFound(`webhook delivery ${deliveryId}`);
      return row;
    }

    app.get(
      `${base}/webhook-deliveries/:delivery`,
      {
        schema: {
          operationId: 'getWebhookDelivery',
          tags: ['webhooks'],
          summary: 'Read a delivery: its status, payload (metadata only) and attempts',
          params: deliveryParams,
          response: {
            200: jsonResponse('The delivery', webhookDeliverySchema),
            ...problemResponses('input', { 404: ['not-found'] }),
          },
        },
      },
      async (request) => {
        const { env } = await visibleEnvironment(deps.db, principalOf(request), request.params);
        return deliveryView(await loadDelivery(env, request.params.delivery));
      },
    );

    app.post(
      `${base}/webhook-deliveries/:delivery/redeliver`,
      {
        schema: {
          operationId: 'redeliverWebhook',
          tags: ['webhooks'],
          summary:
            'Send a delivery again: the same webhook-id and payload, a fresh signature, a new delivery; one at a time per event and endpoint',
          params: deliveryParams,
          response: {
            201: jsonResponse('The new delivery, queued', webhookDeliverySchema),
            ...problemResponses('input', {
              404: ['not-found'],
              409: ['environment-not-active', 'redelivery-in-progress'],
            }),
          },
        },
      },
      async (request, reply) => {
        const principal = principalOf(request);
        const { org, env } = await visibleEnvironment(deps.db, principal, request.params);
        // Only an active environment delivers.
        assertEnvironmentActive(org.slug, env);
        const original = await loadDelivery(env, request.params.delivery);
        await liveEndpoint(deps.db, env, original.endpointId);
        const row = await deps.db.transaction(async (tx) => {
          const queued = await queueRedelivery(tx, original);
          await audit(tx, {
            actorKeyId: principal.keyId,
            action: 'webhook_delivery.redelivered',
            organizationId: org.id,
            environmentId: env.id,
            target: queued.id,
            details: { redeliveryOf: original.id, endpointId: original.endpointId, event: original.event },
          });
          return queued;
        });
        return reply.code(201).send(deliveryView(row));
      },
    );
  };
}
