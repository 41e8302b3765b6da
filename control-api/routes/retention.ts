import { eq } from 'drizzle-orm';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { environments, retentionPolicies } from '../../db/schema.js';
import { RETENTION_BOUNDS, retentionSettingsSchema } from '../../common/retention.js';
import { audit } from '../audit.js';
import { principalOf, visibleEnvironment, visibleOrganization } from '../auth.js';
import type { Principal } from '../auth.js';
import type { ApiDeps } from '../deps.js';
import { conflict, ProblemError } from '../problems.js';
import { applyRetention, triggerSweep } from '../retention/apply.js';
import { currentPolicy, policyVersions, settingsOf } from '../retention/policy.js';
import { collectSweepReceipts, listReceipts } from '../retention/receipts.js';
import { envParams } from '../schemas.js';

const policyBody = retentionSettingsSchema.extend({
  /** The version this change replaces: a change made meanwhile by someone else is refused. */
  version: z.number().int().min(0),
});

function notApplied(error: unknown, what: string): ProblemError {
  const reason = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return new ProblemError(502, 'retention-not-applied', 'Retention policy not applied', `${what}: ${reason}`);
}

export function retentionRoutes(deps: ApiDeps): FastifyPluginAsyncZod {
  const { db } = deps;
  const retention = { temporal: deps.temporal, accounts: deps.accounts, regions: deps.config.regions };

  /** An environment an organization admin (or the operator) may govern, and that still exists. */
  async function governed(principal: Principal, params: z.infer<typeof envParams>) {
    await visibleOrganization(db, principal, params.org, 'admin');
    const { org, env } = await visibleEnvironment(db, principal, params);
    if (env.status !== 'active')
      throw conflict(
        'environment-not-active',
        `environment ${org.slug}/${env.slug} is ${env.status}, not active`,
      );
    return { org, env };
  }

  return async (app) => {
    app.get(
      '/v1/organizations/:org/environments/:env/retention',
      {
        schema: {
          summary:
            "The environment's retention policy in force (version 0: the defaults), with the bounds of each duration",
          params: envParams,
        },
      },
      async (request) => {
        const { env } = await visibleEnvironment(db, principalOf(request), request.params);
        return { ...(await currentPolicy(db, env.id)), bounds: RETENTION_BOUNDS };
      },
    );

    app.get(
      '/v1/organizations/:org/environments/:env/retention/versions',
      {
        schema: {
          summary: "Every version of the environment's retention policy, newest first",
          params: envParams,
        },
      },
      async (request) => {
        const { env } = await visibleEnvironment(db, principalOf(request), request.params);
        return { versions: await policyVersions(db, env.id) };
      },
    );

    app.put(
      '/v1/organizations/:org/environments/:env/retention',
      {
        schema: {
          summary:
            'Replace the retention policy: give the version it replaces; applied to the bucket, the namespace and the sweep schedule',
          params: envParams,
          body: policyBody,
        },
      },
      async (request) => {
        const principal = principalOf(request);
        const { org, env } = await governed(principal, request.params);
        const { version: replaces, ...settings } = request.body;
        // The namespace's tokens and payload key are in hand before the transaction holds a
        // database connection: getting them may need one.
        await deps.temporal.administer(env.namespace, async () => undefined);
        await deps.temporal.inNamespace(env.namespace, 'write', async () => undefined);
        // One change at a time per environment: the row lock orders them, the version check refuses
        // the one that read a stale version. The policy is applied before it is stored; a failure
        // leaves the stored policy as it was.
        return db.transaction(async (tx) => {
          await tx
            .select({ id: environments.id })
            .from(environments)
            .where(eq(environments.id, env.id))
            .for('update');
          const current = await currentPolicy(tx, env.id);
          if (current.version !== replaces)
            throw conflict(
              'stale-policy-version',
              `the retention policy is at version ${current.version}, not ${replaces}; read it again and repeat the change`,
            );
          const version = current.version + 1;
          try {
            await applyRetention(retention, env, org.slug, { ...settings, version });
          } catch (error) {
            throw notApplied(error, `version ${version} was not stored`);
          }
          const [row] = await tx
            .insert(retentionPolicies)
            .values({ environmentId: env.id, version, ...settings, createdByKeyId: principal.keyId })
            .returning();
          await audit(tx, {
            actorKeyId: principal.keyId,
            action: 'retention.updated',
            organizationId: env.organizationId,
            environmentId: env.id,
            target: env.namespace,
            details: { version, replaced: current.version, previous: settingsOf(current), policy: settings },
          });
          return { ...(await currentPolicy(tx, env.id)), createdAt: row!.createdAt.toISOString() };
        });
      },
    );

    app.post(
      '/v1/organizations/:org/environments/:env/retention/sweeps',
      {
        schema: {
          summary: "Start the environment's retention sweep now; its receipt follows under deletion-receipts",
          params: envParams,
        },
      },
      async (request, reply) => {
        const principal = principalOf(request);
        const { org, env } = await governed(principal, request.params);
        const policy = await currentPolicy(db, env.id);
        try {
          // An environment made before policies existed gets its schedule here.
          await triggerSweep(retention, env).catch(async () => {
            await applyRetention(retention, env, org.slug, policy);
            await triggerSweep(retention, env);
          });
        } catch (error) {
          throw notApplied(error, 'the sweep was not started');
        }
        await audit(db, {
          actorKeyId: principal.keyId,
          action: 'retention.sweep_started',
          organizationId: env.organizationId,
          environmentId: env.id,
          target: env.namespace,
          details: { policyVersion: policy.version },
        });
        return reply.code(202).send({ policyVersion: policy.version });
      },
    );

    app.get(
      '/v1/organizations/:org/environments/:env/deletion-receipts',
      {
        schema: {
          summary:
            'What retention sweeps and retirement deleted in the environment: counts, bytes, prefixes, times',
          params: envParams,
          querystring: z.object({ limit: z.coerce.number().int().min(1).max(500).default(50) }),
        },
      },
      async (request) => {
        const { env } = await visibleEnvironment(db, principalOf(request), request.params);
        // Sweeps finished since the last background pass are recorded first.
        if (env.status === 'active')
          await collectSweepReceipts(deps, env).catch((error: Error) =>
            request.log.warn({ err: error.message }, 'sweep receipts not collected'),
          );
        return { receipts: await listReceipts(db, env.id, request.query.limit) };
      },
    );
  };
}
