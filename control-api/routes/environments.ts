import { randomUUID } from 'node:crypto';
import { and, asc, eq } from 'drizzle-orm';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { environments } from '../../db/schema.js';
import { bucketOf, namespaceOf } from '../../common/names.js';
import { regionCodeSchema } from '../../common/regions.js';
import type { RegionCode, RegionRegistry } from '../../common/regions.js';
import { audit } from '../audit.js';
import { principalOf, visibleEnvironment, visibleOrganization } from '../auth.js';
import type { ApiDeps } from '../deps.js';
import { conflict, ProblemError } from '../problems.js';
import { jsonResponse, link, problemResponses } from '../openapi.js';
import { environmentListSchema, environmentSchema, retirementSchema } from '../openapi-schemas.js';
import { chooseAccountId } from '../provisioning/account-pool.js';
import { PROVISIONING_LEASE_MS, provisionEnvironment } from '../provisioning/provision.js';
import type { ProvisioningDeps } from '../provisioning/provision.js';
import { retireEnvironment } from '../provisioning/retire.js';
import { envParams, orgParams, slug } from '../schemas.js';
import { assertEnvironmentRoom, lockQuota, quotasOf } from '../limits/quotas.js';
import type { Database } from '../../db/client.js';

type Env = typeof environments.$inferSelect;

export function environmentView(regions: RegionRegistry, orgSlug: string, env: Env) {
  return {
    id: env.id,
    organization: orgSlug,
    slug: env.slug,
    region: env.region,
    taskQueue: regions[env.region].taskQueue,
    namespace: env.namespace,
    awsRegion: env.awsRegion,
    awsAccountId: env.awsAccountId,
    bucket: env.bucket,
    keyArn: env.keyArn,
    status: env.status,
    statusReason: env.statusReason,
    createdAt: env.createdAt.toISOString(),
  };
}

const org = '$response.body#/organization';
const env = '$response.body#/slug';
const createdEnvironmentLinks = {
  getEnvironment: link('getEnvironment', { org, env }, 'Read the environment'),
  retireEnvironment: link('retireEnvironment', { org, env }, 'Retire the environment'),
  createEnvironmentApiKey: link('createEnvironmentApiKey', { org, env }, 'Issue a key of the environment'),
  createConnection: link('createConnection', { org, env }, 'Add a connection'),
  listConnections: link('listConnections', { org, env }, 'List its connections'),
  createRun: link('createRun', { org, env }, 'Start a run'),
  listRuns: link('listRuns', { org, env }, 'List its runs'),
  getRetentionPolicy: link('getRetentionPolicy', { org, env }, 'Read its retention policy'),
};

export function environmentRoutes(deps: ApiDeps): FastifyPluginAsyncZod {
  const { db, config } = deps;
  const provisioning: ProvisioningDeps = {
    db,
    temporal: deps.temporal,
    payloadKeys: deps.payloadKeys,
    accounts: deps.accounts,
    regions: config.regions,
    controlAccountId: config.controlAccountId,
  };
  /**
   * A new environment row with an account of its own, within the organization's quota. Two creations
   * may pick the same pooled account; the unique index lets one win and the other picks again. A
   * slug taken meanwhile is a conflict.
   */
  async function insertEnvironment(
    org: { id: string; slug: string; quotas: Record<string, number> | null },
    envSlug: string,
    region: RegionCode,
  ) {
    return db.transaction(async (tx) => {
      await lockQuota(tx, org.id);
      await assertEnvironmentRoom(tx, quotasOf(config.quotas, org), org.id);
      return insertWithAccount(tx, org, envSlug, region);
    });
  }

  async function insertWithAccount(
    tx: Pick<Database, 'select' | 'insert'>,
    org: { id: string; slug: string },
    envSlug: string,
    region: RegionCode,
  ) {
    for (let attempt = 0; attempt < 5; attempt++) {
      const id = randomUUID();
      const [row] = await tx
        .insert(environments)
        .values({
          id,
          organizationId: org.id,
          slug: envSlug,
          region,
          namespace: namespaceOf(org.slug, envSlug, id),
          awsRegion: config.regions[region].awsRegion,
          awsAccountId: await chooseAccountId(tx, config),
          bucket: bucketOf(org.slug, envSlug, id),
        })
        .onConflictDoNothing()
        .returning();
      if (row) return row;
      const [taken] = await tx
        .select({ id: environments.id })
        .from(environments)
        .where(and(eq(environments.organizationId, org.id), eq(environments.slug, envSlug)));
      if (taken) throw conflict('duplicate-slug', `environment ${org.slug}/${envSlug} already exists`);
    }
    // Every attempt drew another id, so names did not collide five times: accounts were taken meanwhile.
    throw new ProblemError(
      503,
      'environment-not-created',
      'Environment not created',
      `no account could be reserved for environment ${org.slug}/${envSlug}; repeat the request`,
    );
  }

  return async (app) => {
    app.post(
      '/v1/organizations/:org/environments',
      {
        schema: {
          operationId: 'createEnvironment',
          tags: ['environments'],
          summary:
            'Create and provision an environment pinned to a region; repeating the request resumes a failed provisioning',
          params: orgParams,
          body: z.object({ slug, region: regionCodeSchema }).strict(),
          response: {
            201: jsonResponse('The environment, provisioned and active', environmentSchema),
            ...problemResponses('body', {
              403: ['forbidden', 'quota-exceeded'],
              404: ['not-found'],
              409: ['region-immutable', 'environment-retiring', 'duplicate-slug', 'provisioning-in-progress'],
              502: ['provisioning-failed'],
              503: ['environment-not-created', 'account-pool-exhausted'],
            }),
          },
        },
        links: { 201: createdEnvironmentLinks },
      },
      async (request, reply) => {
        const principal = principalOf(request);
        const org = await visibleOrganization(db, principal, request.params.org, 'admin');
        const { slug: envSlug, region } = request.body;
        let [env] = await db
          .select()
          .from(environments)
          .where(and(eq(environments.organizationId, org.id), eq(environments.slug, envSlug)));
        if (env && env.region !== region) {
          throw conflict(
            'region-immutable',
            `environment ${org.slug}/${envSlug} is pinned to region ${env.region}; its region never changes`,
          );
        }
        if (env?.status === 'retiring') {
          throw conflict(
            'environment-retiring',
            `environment ${org.slug}/${envSlug} is being retired; it cannot be created again`,
          );
        }
        if (env && (env.status === 'active' || env.status === 'retired')) {
          throw conflict(
            'duplicate-slug',
            `environment ${org.slug}/${envSlug} already exists (${env.status})`,
          );
        }
        const fresh = !env;
        if (!env) {
          env = await insertEnvironment(org, envSlug, region);
          await audit(db, {
            actorKeyId: principal.keyId,
            action: 'environment.created',
            organizationId: org.id,
            environmentId: env.id,
            target: env.namespace,
            details: { region },
          });
        }
        const result = await provisionEnvironment(provisioning, env, org.slug, principal.keyId, fresh);
        if (result.status === 'provisioning') {
          throw conflict(
            'provisioning-in-progress',
            `environment ${org.slug}/${envSlug} is being provisioned by another request; read it, or repeat the request later`,
          );
        }
        if (result.status === 'retiring' || result.status === 'retired') {
          throw conflict(
            'environment-retiring',
            `environment ${org.slug}/${envSlug} is ${result.status}; it cannot be created again`,
          );
        }
        if (result.status !== 'active') {
          throw new ProblemError(
            502,
            'provisioning-failed',
            'Provisioning failed',
            `environment ${org.slug}/${envSlug} is failed: ${result.statusReason ?? 'unknown'}; repeat the request to resume`,
          );
        }
        return reply.code(201).send(environmentView(config.regions, org.slug, result));
      },
    );

    app.get(
      '/v1/organizations/:org/environments',
      {
        schema: {
          operationId: 'listEnvironments',
          tags: ['environments'],
          summary: "List an organization's environments",
          params: orgParams,
          response: {
            200: jsonResponse("The organization's environments, oldest first", environmentListSchema),
            ...problemResponses('input', { 403: ['forbidden'], 404: ['not-found'] }),
          },
        },
      },
      async (request) => {
        const org = await visibleOrganization(db, principalOf(request), request.params.org, 'admin');
        const rows = await db
          .select()
          .from(environments)
          .where(eq(environments.organizationId, org.id))
          .orderBy(asc(environments.createdAt));
        return { environments: rows.map((env) => environmentView(config.regions, org.slug, env)) };
      },
    );

    app.get(
      '/v1/organizations/:org/environments/:env',
      {
        schema: {
          operationId: 'getEnvironment',
          tags: ['environments'],
          summary: 'Read an environment',
          params: envParams,
          response: {
            200: jsonResponse('The environment', environmentSchema),
            ...problemResponses('input', { 404: ['not-found'] }),
          },
        },
      },
      async (request) => {
        const { org, env } = await visibleEnvironment(db, principalOf(request), request.params);
        return environmentView(config.regions, org.slug, env);
      },
    );

    app.delete(
      '/v1/organizations/:org/environments/:env',
      {
        schema: {
          operationId: 'retireEnvironment',
          tags: ['environments'],
          summary:
            'Retire an environment: destroy its data, bucket, key, role and namespace, and keep a receipt',
          params: envParams,
          response: {
            200: jsonResponse('The environment, retired, and what retiring it destroyed', retirementSchema),
            ...problemResponses('body', {
              403: ['forbidden'],
              404: ['not-found'],
              409: ['already-retired', 'provisioning-in-progress'],
              502: ['retirement-failed'],
            }),
          },
        },
      },
      async (request) => {
        const principal = principalOf(request);
        await visibleOrganization(db, principal, request.params.org, 'admin');
        const { org, env } = await visibleEnvironment(db, principal, request.params);
        if (env.status === 'retired')
          throw conflict('already-retired', `environment ${org.slug}/${env.slug} is already retired`);
        // A provisioning under way would go on making what the retirement tears down.
        if (env.status === 'provisioning' && Date.now() - env.updatedAt.getTime() < PROVISIONING_LEASE_MS)
          throw conflict(
            'provisioning-in-progress',
            `environment ${org.slug}/${env.slug} is being provisioned; retire it once provisioning ends`,
          );
        try {
          const receipt = await retireEnvironment(provisioning, env, org.slug, principal.keyId);
          return {
            environment: environmentView(config.regions, org.slug, {
              ...env,
              status: 'retired',
              statusReason: null,
            }),
            receipt,
          };
        } catch (error) {
          const reason = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
          await db
            .update(environments)
            .set({ statusReason: `retirement: ${reason}`.slice(0, 500) })
            .where(eq(environments.id, env.id));
          throw new ProblemError(
            502,
            'retirement-failed',
            'Retirement failed',
            `environment ${org.slug}/${env.slug} is retiring: ${reason}; repeat the request to resume`,
          );
        }
      },
    );
  };
}
