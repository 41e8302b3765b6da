import { eq } from 'drizzle-orm';
import type { FastifyBaseLogger } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { environments, retentionPolicies } from '../../db/schema.js';
import { RETENTION_BOUNDS, retentionSettingsSchema } from '../../common/retention.js';
import { audit } from '../audit.js';
import { principalOf, visibleEnvironment, visibleOrganization } from '../auth.js';
import type { Principal } from '../auth.js';
import type { ApiDeps } from '../deps.js';
import { assertEnvironmentActive, conflict, ProblemError } from '../problems.js';
import { applyRetention, RetentionStepFailed, triggerSweep } from '../retention/apply.js';
import { currentPolicy, policyVersions, settingsOf } from '../retention/policy.js';
import { collectSweepReceipts, listReceipts } from '../retention/receipts.js';
import { jsonResponse, problemResponses } from '../openapi.js';
import {
  deletionReceiptListSchema,
  retentionInForceSchema,
  retentionStoredSchema,
  retentionVersionsSchema,
  sweepStartedSchema,
} from '../openapi-schemas.js';
import { envParams } from '../schemas.js';
import { refreshScheduleActions, scheduleDepsOf } from '../schedules.js';

const policyBody = retentionSettingsSchema.extend({
  /** The version this change replaces: a change made meanwhile by someone else is refused. */
  version: z.number().int().min(0),
});

/** A policy that could not be put into force: the problem names the step; the cause goes to the log. */
function notApplied(error: unknown, what: string, log: FastifyBaseLogger): ProblemError {
  const step =
    error instanceof RetentionStepFailed ? error.message : 'the retention policy could not be applied';
  const cause = error instanceof RetentionStepFailed ? error.cause : error;
  log.error({ err: cause instanceof Error ? cause.message : String(cause) }, step);
  return new ProblemError(502, 'retention-not-applied', 'Retention policy not applied', `${step}; ${what}`);
}

export function retentionRoutes(deps: ApiDeps): FastifyPluginAsyncZod {
  const scheduleDeps = scheduleDepsOf(deps);
  const { db } = deps;
  const retention = { temporal: deps.temporal, accounts: deps.accounts, regions: deps.config.regions };

  /** An environment an organization admin (or the operator) may govern, and that still exists. */
  async function governed(principal: Principal, params: z.infer<typeof envParams>) {
    await visibleOrganization(db, principal, params.org, 'admin');
    const { org, env } = await visibleEnvironment(db, principal, params);
    assertEnvironmentActive(org.slug, env);
    return { org, env };
  }

  return async (app) => {
    app.get(
      '/v1/organizations/:org/environments/:env/retention',
      {
        schema: {
          operationId: 'getRetentionPolicy',
          tags: ['retention'],
          summary:
            "The environment's retention policy in force (version 0: the defaults), with the bounds of each duration",
          params: envParams,
          response: {
            200: jsonResponse('The policy in force, and the bounds of each duration', retentionInForceSchema),
            ...problemResponses('input', { 404: ['not-found'] }),
          },
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
          operationId: 'listRetentionPolicyVersions',
          tags: ['retention'],
          summary: "Every version of the environment's retention policy, newest first",
          params: envParams,
          response: {
            200: jsonResponse(
              'The stored versions, newest first (the defaults, version 0, are not stored)',
              retentionVersionsSchema,
            ),
            ...problemResponses('input', { 404: ['not-found'] }),
          },
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
          operationId: 'replaceRetentionPolicy',
          tags: ['retention'],
          summary:
            'Replace the retention policy: give the version it replaces; applied to the bucket, the namespace and the sweep schedule',
          params: envParams,
          body: policyBody,
          response: {
            200: jsonResponse('The new version, in force', retentionStoredSchema),
            ...problemResponses('body', {
              403: ['forbidden'],
              404: ['not-found'],
              409: ['environment-not-active', 'stale-policy-version'],
              502: ['retention-not-applied'],
            }),
          },
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
        const policy = await db.transaction(async (tx) => {
          await tx
            .select({ id: environments.id })
            .from(environments)
            .where(eq(environments.id, env.id))
            // Not FOR UPDATE: inserts that refer to the environment (runs, keys) go on meanwhile.
            .for('no key update');
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
            // What was set before the failing step goes back to the version in force.
            await applyRetention(retention, env, org.slug, current).catch((again: Error) =>
              request.log.error(
                { err: again.message },
                'the retention policy in force could not be set again',
              ),
            );
            throw notApplied(error, `version ${version} was not stored`, request.log);
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
        // Runs the schedules start from now on keep this version and its log detail; a schedule that
        // cannot be refreshed is logged, and the policy stands.
        await refreshScheduleActions(scheduleDeps, env, org.slug, request.log);
        return policy;
      },
    );

    app.post(
      '/v1/organizations/:org/environments/:env/retention/sweeps',
      {
        schema: {
          operationId: 'startRetentionSweep',
          tags: ['retention'],
          summary: "Start the environment's retention sweep now; its receipt follows under deletion-receipts",
          params: envParams,
          response: {
            202: jsonResponse('The sweep started, under this policy version', sweepStartedSchema),
            ...problemResponses('body', {
              403: ['forbidden'],
              404: ['not-found'],
              409: ['environment-not-active'],
              502: ['retention-not-applied'],
            }),
          },
        },
      },
      async (request, reply) => {
        const principal = principalOf(request);
        const { org, env } = await governed(principal, request.params);
        const policy = await currentPolicy(db, env.id);
        try {
          await triggerSweep(retention, env, org.slug, policy);
        } catch (error) {
          throw notApplied(error, 'the sweep was not started', request.log);
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
          operationId: 'listDeletionReceipts',
          tags: ['retention'],
          summary:
            'What retention sweeps and retirement deleted in the environment: counts, bytes, prefixes, times',
          params: envParams,
          querystring: z.object({
            limit: z.coerce.number().int().min(1).max(500).default(50),
            /** The `finishedAt` of the last receipt of the previous page: the next page is older. */
            before: z.iso.datetime({ offset: true }).optional(),
          }),
          response: {
            200: jsonResponse('The receipts, newest first', deletionReceiptListSchema),
            ...problemResponses('input', { 404: ['not-found'] }),
          },
        },
      },
      async (request) => {
        const { env } = await visibleEnvironment(db, principalOf(request), request.params);
        // Sweeps finished since the last background pass are recorded first.
        if (env.status === 'active') {
          const collected = await collectSweepReceipts(deps, env).catch((error: Error) =>
            request.log.warn({ err: error.message }, 'sweep receipts not collected'),
          );
          if (collected?.refused)
            request.log.warn({ refused: collected.refused }, 'sweep results refused: not receipts');
        }
        const { limit, before } = request.query;
        return { receipts: await listReceipts(db, env.id, limit, before ? new Date(before) : undefined) };
      },
    );
  };
}
