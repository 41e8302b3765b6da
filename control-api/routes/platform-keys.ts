import { and, eq, inArray } from 'drizzle-orm';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { regionCodeSchema } from '../../common/regions.js';
import { apiKeys } from '../../db/schema.js';
import { principalOf, requireOperator } from '../auth.js';
import type { Principal } from '../auth.js';
import type { ApiDeps } from '../deps.js';
import {
  expiresInDays,
  issueBody,
  issueKeyNow,
  issueResponses,
  listKeys,
  revokeKey,
  rotateBody,
  rotateKey,
  rotateResponses,
} from '../key-lifecycle.js';
import { notFound } from '../problems.js';
import { jsonResponse, link, problemResponses } from '../openapi.js';
import { apiKeyListSchema, apiKeySchema } from '../openapi-schemas.js';

const PLATFORM_KINDS = ['operator', 'host'] as const;
const keyParams = z.object({ key: z.uuid() });

/** From a key just issued (or a rotation's successor) to what is done with it next. */
const issuedKeyLinks = {
  rotatePlatformApiKey: link('rotatePlatformApiKey', { key: '$response.body#/id' }, 'Rotate the key'),
  revokePlatformApiKey: link('revokePlatformApiKey', { key: '$response.body#/id' }, 'Revoke the key'),
};

/** The platform's own keys, operator and region host keys: the operator's alone to manage. */
export function platformKeyRoutes(deps: ApiDeps): FastifyPluginAsyncZod {
  const { db } = deps;

  async function loadKey(principal: Principal, id: string) {
    requireOperator(principal);
    const [row] = await db
      .select()
      .from(apiKeys)
      .where(and(eq(apiKeys.id, id), inArray(apiKeys.kind, PLATFORM_KINDS)));
    if (!row) throw notFound(`API key ${id}`);
    return row;
  }

  return async (app) => {
    app.get(
      '/v1/api-keys',
      {
        schema: {
          operationId: 'listPlatformApiKeys',
          tags: ['api-keys'],
          summary: 'List the operator and region host keys (operator key; never the secrets)',
          querystring: z.object({ kind: z.enum(PLATFORM_KINDS).optional() }).strict(),
          response: {
            200: jsonResponse('The keys, oldest first', apiKeyListSchema),
            ...problemResponses('input', { 403: ['forbidden'] }),
          },
        },
      },
      async (request) => {
        requireOperator(principalOf(request));
        const kinds = request.query.kind ? [request.query.kind] : [...PLATFORM_KINDS];
        return listKeys(db, inArray(apiKeys.kind, kinds));
      },
    );

    app.post(
      '/v1/operator-keys',
      {
        schema: {
          operationId: 'createOperatorKey',
          tags: ['api-keys'],
          summary: 'Issue another operator key (operator key; shown once)',
          body: issueBody.optional(),
          response: issueResponses({ 403: ['forbidden'] }),
        },
        links: { 201: issuedKeyLinks },
      },
      async (request, reply) => {
        const principal = principalOf(request);
        requireOperator(principal);
        const issued = await issueKeyNow(db, principal, { kind: 'operator' }, request.body?.expiresInDays);
        return reply.code(201).send(issued);
      },
    );

    app.post(
      '/v1/host-keys',
      {
        schema: {
          operationId: 'createHostKey',
          tags: ['api-keys'],
          summary: "Issue a region host's key (operator key; shown once)",
          body: z.object({ region: regionCodeSchema, expiresInDays: expiresInDays.optional() }).strict(),
          response: issueResponses({ 403: ['forbidden'] }),
        },
        links: { 201: issuedKeyLinks },
      },
      async (request, reply) => {
        const principal = principalOf(request);
        requireOperator(principal);
        const { region, expiresInDays: days } = request.body;
        const issued = await issueKeyNow(db, principal, { kind: 'host', region }, days);
        return reply.code(201).send(issued);
      },
    );

    app.delete(
      '/v1/api-keys/:key',
      {
        schema: {
          operationId: 'revokePlatformApiKey',
          tags: ['api-keys'],
          summary: 'Revoke an operator or region host key (operator key); never the last operator key',
          params: keyParams,
          response: {
            200: jsonResponse('The key, revoked', apiKeySchema),
            ...problemResponses('body', {
              403: ['forbidden'],
              404: ['not-found'],
              409: ['already-revoked', 'last-operator-key'],
            }),
          },
        },
      },
      async (request) => {
        const principal = principalOf(request);
        return revokeKey(db, principal, await loadKey(principal, request.params.key));
      },
    );

    app.post(
      '/v1/api-keys/:key/rotate',
      {
        schema: {
          operationId: 'rotatePlatformApiKey',
          tags: ['api-keys'],
          summary:
            'Replace an operator or region host key (operator key): the new key is shown once; the old one stops now, or after the overlap',
          params: keyParams,
          body: rotateBody.optional(),
          response: rotateResponses,
        },
        links: { 201: issuedKeyLinks },
      },
      async (request, reply) => {
        const principal = principalOf(request);
        const row = await loadKey(principal, request.params.key);
        return reply.code(201).send(await rotateKey(db, principal, row, request.body ?? {}));
      },
    );
  };
}
