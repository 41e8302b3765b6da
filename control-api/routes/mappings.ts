import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { principalOf, visibleEnvironment } from '../auth.js';
import type { ApiDeps } from '../deps.js';
import { refreshScheduleActions, scheduleDepsOf } from '../schedules.js';
import { currentMapping, currentMappings, mappingVersion, mappingView, saveMapping } from '../mappings.js';
import { jsonResponse, problemResponses } from '../openapi.js';
import { fieldMappingListSchema, fieldMappingSchema } from '../openapi-schemas.js';
import { notFound } from '../problems.js';
import { envParams } from '../schemas.js';

/**
 * The rules are checked by the handler rather than by the body's schema, so that a bad one answers
 * 422 `invalid-mapping` naming its field, path or transform.
 */
const saveBody = z
  .object({
    source: z.string().min(1).max(100).describe('The source connection (hris-rest)'),
    destination: z.string().min(1).max(100).describe('The destination connection (upsert-rest)'),
    fields: z
      .record(z.string(), z.unknown())
      .describe(
        'Canonical field -> { path, transforms }: see DeclaredFields. externalId, givenName, familyName, email and employmentStatus are required; any other canonical field left out never reaches the destination',
      ),
  })
  .strict();

const pairParams = envParams.extend({ source: z.uuid(), destination: z.uuid() });
const versionParams = pairParams.extend({ version: z.coerce.number().int().min(1).max(2_147_483_647) });

const PAIR_PATH = '/v1/organizations/:org/environments/:env/mappings/:source/:destination';

export function mappingRoutes(deps: ApiDeps): FastifyPluginAsyncZod {
  const scheduleDeps = scheduleDepsOf(deps);
  const { db } = deps;
  const pairOf = (params: z.infer<typeof pairParams>) => ({
    source: params.source,
    destination: params.destination,
  });
  const mappingOf = (params: z.infer<typeof pairParams>) =>
    `the mapping of connections ${params.source} -> ${params.destination}`;

  return async (app) => {
    app.put(
      '/v1/organizations/:org/environments/:env/mappings',
      {
        schema: {
          operationId: 'saveMapping',
          tags: ['mappings'],
          summary:
            "Save the next version of a connection pair's field mapping; runs of the pair carry the newest version",
          params: envParams,
          body: saveBody,
          response: {
            201: jsonResponse('The version saved', fieldMappingSchema),
            ...problemResponses('body', {
              404: ['not-found'],
              409: ['environment-not-active'],
              422: ['invalid-mapping', 'unknown-connection', 'wrong-connection-kind'],
            }),
          },
        },
      },
      async (request, reply) => {
        const principal = principalOf(request);
        const { org, env } = await visibleEnvironment(db, principal, request.params);
        const row = await saveMapping(db, env, org.slug, request.body, principal.keyId);
        // The pair's schedules start their next runs with this version; a schedule that cannot be
        // refreshed is logged, and the saved version stands.
        await refreshScheduleActions(
          scheduleDeps,
          env,
          org.slug,
          request.log,
          ({ connections }) =>
            connections.source === row.sourceConnectionId &&
            connections.destination === row.destinationConnectionId,
        );
        return reply.code(201).send(mappingView(row));
      },
    );

    app.get(
      '/v1/organizations/:org/environments/:env/mappings',
      {
        schema: {
          operationId: 'listMappings',
          tags: ['mappings'],
          summary: "The environment's connection pairs that have a mapping, each with its version in force",
          params: envParams,
          response: {
            200: jsonResponse('Each mapped pair and its mapping in force', fieldMappingListSchema),
            ...problemResponses('input', { 404: ['not-found'] }),
          },
        },
      },
      async (request) => {
        const { env } = await visibleEnvironment(db, principalOf(request), request.params);
        return { mappings: (await currentMappings(db, env.id)).map(mappingView) };
      },
    );

    app.get(
      PAIR_PATH,
      {
        schema: {
          operationId: 'getMapping',
          tags: ['mappings'],
          summary: "A connection pair's mapping in force: its newest version",
          params: pairParams,
          response: {
            200: jsonResponse('The mapping in force', fieldMappingSchema),
            ...problemResponses('input', { 404: ['not-found'] }),
          },
        },
      },
      async (request) => {
        const { env } = await visibleEnvironment(db, principalOf(request), request.params);
        const row = await currentMapping(db, env.id, pairOf(request.params));
        if (!row) throw notFound(mappingOf(request.params));
        return mappingView(row);
      },
    );

    app.get(
      `${PAIR_PATH}/versions/:version`,
      {
        schema: {
          operationId: 'getMappingVersion',
          tags: ['mappings'],
          summary: "One version of a connection pair's mapping",
          params: versionParams,
          response: {
            200: jsonResponse('The mapping version', fieldMappingSchema),
            ...problemResponses('input', { 404: ['not-found'] }),
          },
        },
      },
      async (request) => {
        const { env } = await visibleEnvironment(db, principalOf(request), request.params);
        const row = await mappingVersion(db, env.id, pairOf(request.params), request.params.version);
        if (!row) throw notFound(`version ${request.params.version} of ${mappingOf(request.params)}`);
        return mappingView(row);
      },
    );
  };
}
