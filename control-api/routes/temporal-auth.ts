import { and, eq } from 'drizzle-orm';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { environments } from '../../db/schema.js';
import { audit } from '../audit.js';
import { isRegionHost, principalOf, requireOperator, visibleOrganization } from '../auth.js';
import type { Principal } from '../auth.js';
import type { RegionCode } from '../../common/regions.js';
import type { ApiDeps } from '../deps.js';
import { forbidden, notFound } from '../problems.js';
import { jsonResponse, problemResponses } from '../openapi.js';
import {
  payloadKeySchema,
  signingKeyRotationSchema,
  temporalTokenSchema,
  workerTokenSchema,
} from '../openapi-schemas.js';
import { orgParams, regionParams, slug } from '../schemas.js';
import { activeNamespaces } from '../temporal-auth/people.js';
import { permission } from '../temporal-auth/tokens.js';

const PEOPLE_TOKEN_DEFAULT_SECONDS = 900;

/**
 * Temporal authorizes every call by a token this API signs: the JWKS Temporal verifies them with,
 * key rotation, worker tokens for region hosts, and read (or, for operators, admin) tokens for people.
 */
export function temporalAuthRoutes(deps: ApiDeps): FastifyPluginAsyncZod {
  const { db, signingKeys, config } = deps;
  const maxSeconds = config.temporalTokenTtlSeconds;
  /** An active environment of the region, for that region's host only; 404 for anyone else. */
  async function hostedEnvironment(
    principal: Principal,
    { region, environment }: { region: RegionCode; environment: string },
  ) {
    if (!isRegionHost(principal, region)) throw notFound(`region ${region}`);
    const [env] = await db
      .select()
      .from(environments)
      .where(
        and(
          eq(environments.id, environment),
          eq(environments.region, region),
          eq(environments.status, 'active'),
        ),
      );
    if (!env) throw notFound(`environment ${environment} in region ${region}`);
    return env;
  }

  return async (app) => {
    // Public (Temporal reads it without a key), and left out of the document.
    app.get(
      '/.well-known/jwks.json',
      { schema: { hide: true, operationId: 'getJwks', tags: ['temporal'], security: [] } },
      async (_request, reply) => {
        void reply.header('cache-control', 'no-store');
        return signingKeys.jwks();
      },
    );

    app.post(
      '/v1/temporal-signing-keys/rotate',
      {
        schema: {
          operationId: 'rotateTemporalSigningKey',
          tags: ['temporal'],
          summary: 'Publish a new Temporal token signing key; it signs after the publish lead (operator key)',
          response: {
            201: jsonResponse(
              'The new key: when it starts signing, and when the keys before it leave the JWKS',
              signingKeyRotationSchema,
            ),
            ...problemResponses('unchecked-body', { 403: ['forbidden'] }),
          },
        },
      },
      async (request, reply) => {
        const principal = principalOf(request);
        requireOperator(principal);
        const rotated = await signingKeys.rotate();
        await audit(db, {
          actorKeyId: principal.keyId,
          action: 'temporal_signing_key.rotated',
          target: rotated.kid,
          details: {
            activatesAt: rotated.activatesAt.toISOString(),
            previousRetireAt: rotated.previousRetireAt.toISOString(),
          },
        });
        return reply.code(201).send({
          kid: rotated.kid,
          activatesAt: rotated.activatesAt.toISOString(),
          previousKeysRetireAt: rotated.previousRetireAt.toISOString(),
        });
      },
    );

    app.post(
      '/v1/regions/:region/environments/:environment/temporal-token',
      {
        schema: {
          operationId: 'createWorkerTemporalToken',
          tags: ['temporal'],
          summary:
            "A worker token for one active environment of the region: its namespace, write role (that region's host key)",
          params: regionParams.extend({ environment: z.uuid() }),
          response: {
            200: jsonResponse('The token', workerTokenSchema),
            ...problemResponses('body', { 404: ['not-found'] }),
          },
        },
      },
      async (request) => {
        const env = await hostedEnvironment(principalOf(request), request.params);
        const signed = await signingKeys.sign(
          `worker:${env.namespace}`,
          [permission(env.namespace, 'write')],
          maxSeconds * 1000,
        );
        return { token: signed.token, expiresAt: signed.expiresAt.toISOString() };
      },
    );

    app.post(
      '/v1/regions/:region/environments/:environment/payload-key',
      {
        schema: {
          operationId: 'getEnvironmentPayloadKey',
          tags: ['temporal'],
          summary:
            "The Temporal payload data key of one active environment of the region, for its worker (that region's host key)",
          params: regionParams.extend({ environment: z.uuid() }),
          response: {
            200: jsonResponse('The data key', payloadKeySchema),
            ...problemResponses('body', { 404: ['not-found'] }),
          },
        },
      },
      async (request) => {
        const env = await hostedEnvironment(principalOf(request), request.params);
        const key = await deps.payloadKeys.ofEnvironment(env.id);
        if (!key) throw notFound(`the payload key of environment ${env.id}`);
        return { id: key.id, key: Buffer.from(key.key).toString('base64') };
      },
    );

    app.post(
      '/v1/organizations/:org/temporal-tokens',
      {
        schema: {
          operationId: 'createTemporalToken',
          tags: ['temporal'],
          summary:
            "A token for the standard Temporal CLI and SDKs on the caller's environments' namespaces: read, or admin for operators",
          params: orgParams,
          body: z
            .object({
              environment: slug.optional(),
              role: z.enum(['read', 'admin']).default('read'),
              ttlSeconds: z.number().int().min(60).max(maxSeconds).optional(),
            })
            .strict(),
          response: {
            201: jsonResponse('The token, its role and the namespaces it covers', temporalTokenSchema),
            ...problemResponses('body', { 403: ['forbidden'], 404: ['not-found'] }),
          },
        },
      },
      async (request, reply) => {
        const principal = principalOf(request);
        const org = await visibleOrganization(db, principal, request.params.org, 'member');
        const { environment, role } = request.body;
        if (role === 'admin') requireOperator(principal);
        const namespaces = await activeNamespaces(db, {
          organizationId: org.id,
          environmentId: principal.environmentId,
          environmentSlug: environment,
        });
        if (environment && namespaces.length === 0) throw notFound(`environment ${org.slug}/${environment}`);
        if (namespaces.length === 0) throw forbidden(`organization ${org.slug} has no active environment`);
        const ttlSeconds = request.body.ttlSeconds ?? Math.min(PEOPLE_TOKEN_DEFAULT_SECONDS, maxSeconds);
        const signed = await signingKeys.sign(
          `key:${principal.keyId}`,
          namespaces.map((namespace) => permission(namespace, role)),
          ttlSeconds * 1000,
        );
        await audit(db, {
          actorKeyId: principal.keyId,
          action: 'temporal_token.issued',
          organizationId: org.id,
          target: signed.kid,
          details: { namespaces, role, expiresAt: signed.expiresAt.toISOString() },
        });
        return reply.code(201).send({
          token: signed.token,
          expiresAt: signed.expiresAt.toISOString(),
          role,
          namespaces,
        });
      },
    );
  };
}
