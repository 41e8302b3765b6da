import { PutBucketLifecycleConfigurationCommand } from '@aws-sdk/client-s3';
import type { LifecycleRule } from '@aws-sdk/client-s3';
import { ScheduleNotFoundError, ScheduleOverlapPolicy } from '@temporalio/client';
import type { ScheduleOptionsAction } from '@temporalio/client';
import type { environments } from '../../db/schema.js';
import {
  keepForMs,
  RETENTION_BOUNDS,
  SWEEP_SCHEDULE_ID,
  SWEEP_WORKFLOW_TYPE,
  SWEPT_PREFIXES,
} from '../../common/retention.js';
import type { RetentionSettings, SweepInput } from '../../common/retention.js';
import type { RegionRegistry } from '../../common/regions.js';
import { SA } from '../../common/search-attributes.js';
import type { Database } from '../../db/client.js';
import type { AccountAccess } from '../provisioning/account-access.js';
import { currentPolicy } from './policy.js';
import type { TemporalClients } from '../temporal-clients.js';

type Env = typeof environments.$inferSelect;

export interface RetentionDeps {
  temporal: TemporalClients;
  accounts: AccountAccess;
  regions: RegionRegistry;
}

/** How often an environment's sweep runs. */
export const SWEEP_EVERY = '1 hour';
/** The integration name a sweep carries in its search attributes, so the Web UI lists it. */
export const SWEEP_INTEGRATION = 'retention-sweep';

const DAY_MS = RETENTION_BOUNDS.quarantineDays.unitMs;

/**
 * The bucket's lifecycle rules: AWS expires each prefix after its duration rounded up to whole days
 * (at least one, the least S3 accepts) and gives up unfinished uploads after a day. They back up the
 * sweep, which applies the exact durations and leaves receipts.
 */
export function lifecycleRulesOf(settings: RetentionSettings): LifecycleRule[] {
  const keep = keepForMs(settings);
  return Object.keys(SWEPT_PREFIXES).map((prefix) => ({
    ID: `tavio-${prefix}`,
    Status: 'Enabled',
    Filter: { Prefix: `${prefix}/` },
    Expiration: { Days: Math.max(1, Math.ceil(keep[prefix as keyof typeof keep] / DAY_MS)) },
    AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 },
  }));
}

/** What the environment's schedule starts every hour: a sweep under this policy version. */
function sweepAction(env: Env, orgSlug: string, regions: RegionRegistry, input: SweepInput) {
  return {
    type: 'startWorkflow',
    workflowType: SWEEP_WORKFLOW_TYPE,
    workflowId: SWEEP_SCHEDULE_ID,
    taskQueue: regions[env.region].taskQueue,
    args: [input],
    typedSearchAttributes: [
      { key: SA.organization, value: orgSlug },
      { key: SA.environment, value: env.slug },
      { key: SA.region, value: env.region },
      { key: SA.integration, value: SWEEP_INTEGRATION },
    ],
  } satisfies ScheduleOptionsAction;
}

/** A step of putting a policy into force that failed: it names the step, its cause is kept for logs. */
export class RetentionStepFailed extends Error {
  constructor(
    readonly step: 'lifecycle rules' | 'history retention' | 'sweep schedule',
    cause: unknown,
  ) {
    super(`the ${step} could not be set`, { cause });
    this.name = 'RetentionStepFailed';
  }
}

async function step(name: RetentionStepFailed['step'], work: () => Promise<unknown>): Promise<void> {
  try {
    await work();
  } catch (error) {
    throw new RetentionStepFailed(name, error);
  }
}

/**
 * Puts a policy into force for an environment: the bucket's lifecycle rules, the namespace's
 * history retention, and the schedule of its sweep (created if missing). Each is idempotent, so a
 * failed attempt is repeated whole.
 */
export async function applyRetention(
  deps: RetentionDeps,
  env: Env,
  orgSlug: string,
  policy: RetentionSettings & { version: number },
): Promise<void> {
  await step('lifecycle rules', async () => {
    const aws = await deps.accounts.clients(env.awsAccountId, env.awsRegion);
    await aws.s3.send(
      new PutBucketLifecycleConfigurationCommand({
        Bucket: env.bucket,
        LifecycleConfiguration: { Rules: lifecycleRulesOf(policy) },
      }),
    );
  });
  await step('history retention', () =>
    deps.temporal.namespaces.setHistoryRetention(env.namespace, policy.historyDays),
  );
  await step('sweep schedule', () => putSweepSchedule(deps, env, orgSlug, policy));
}

/** The environment's sweep schedule, created or updated to sweep under `policy`. */
async function putSweepSchedule(
  deps: RetentionDeps,
  env: Env,
  orgSlug: string,
  policy: RetentionSettings & { version: number },
): Promise<void> {
  const action = sweepAction(env, orgSlug, deps.regions, {
    policyVersion: policy.version,
    keepForMs: keepForMs(policy),
  });
  await deps.temporal.inNamespace(env.namespace, 'write', async (client) => {
    const handle = client.schedule.getHandle(SWEEP_SCHEDULE_ID);
    try {
      await handle.update((previous) => ({ ...previous, action }));
    } catch (error) {
      if (!(error instanceof ScheduleNotFoundError)) throw error;
      await client.schedule.create({
        scheduleId: SWEEP_SCHEDULE_ID,
        spec: { intervals: [{ every: SWEEP_EVERY }] },
        action,
        policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: SWEEP_EVERY },
        memo: { purpose: 'retention sweep of the environment bucket' },
      });
    }
  });
}

/**
 * Gives an environment made before sweeps existed its schedule and lifecycle rules, under the
 * policy in force. Schedules are listed (visibility, no query to the schedule itself).
 */
export async function ensureSweepSchedule(
  deps: RetentionDeps & { db: Database },
  env: Env,
  orgSlug: string,
): Promise<void> {
  const exists = await deps.temporal.inNamespace(env.namespace, 'read', async (client) => {
    for await (const schedule of client.schedule.list())
      if (schedule.scheduleId === SWEEP_SCHEDULE_ID) return true;
    return false;
  });
  if (!exists) await applyRetention(deps, env, orgSlug, await currentPolicy(deps.db, env.id));
}

/**
 * Starts the environment's sweep now, outside its hourly times, after the one that runs, if any:
 * two sweeps never run at once (both would count an object one of them deleted). An environment
 * made before sweeps existed gets its schedule first, under the policy in force.
 */
export async function triggerSweep(
  deps: RetentionDeps,
  env: Env,
  orgSlug: string,
  policy: RetentionSettings & { version: number },
): Promise<void> {
  const trigger = () =>
    deps.temporal.inNamespace(env.namespace, 'write', (client) =>
      client.schedule.getHandle(SWEEP_SCHEDULE_ID).trigger(ScheduleOverlapPolicy.BUFFER_ONE),
    );
  try {
    await trigger();
  } catch (error) {
    if (!(error instanceof ScheduleNotFoundError)) throw error;
    await applyRetention(deps, env, orgSlug, policy);
    await trigger();
  }
}
