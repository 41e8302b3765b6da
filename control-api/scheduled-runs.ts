import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import type { WorkflowExecutionInfo } from '@temporalio/client';
import { and, desc, eq, inArray, isNotNull } from 'drizzle-orm';
import type { Database } from '../db/client.js';
import { environments, runs, schedules } from '../db/schema.js';
import { logDetailOf, LOG_DETAIL_MEMO } from '../common/run-log.js';
import { audit } from './audit.js';
import { repeatPass } from './repeated-pass.js';
import type { TemporalClients } from './temporal-clients.js';

type Env = typeof environments.$inferSelect;
type ScheduleRow = typeof schedules.$inferSelect;

/**
 * Runs started by schedules are runs like any other: each gets a `runs` row, which the run
 * reconciler moves forward when its workflow closes and GET runs lists. Temporal starts them, so
 * a background pass finds them: per environment, one visibility query on Temporal's own search
 * attributes of scheduled executions (`TemporalScheduledById`, `TemporalScheduledStartTime`) for
 * what its schedules started since the previous pass, less an overlap. A run is keyed by schedule
 * and scheduled time, so finding it twice records it once; several control API processes may each
 * run the pass.
 */

/** How often scheduled executions are looked for. */
const PASS_EVERY_MS = 2_000;
/** Executions are looked for from this long before the previous pass: visibility lags. */
const OVERLAP_MS = 60_000;
/** Workflow ids looked up in the control database at once. */
const LOOKUP_BATCH = 1_000;

const SCHEDULED_BY = defineSearchAttributeKey('TemporalScheduledById', SearchAttributeType.KEYWORD);
const SCHEDULED_AT = defineSearchAttributeKey('TemporalScheduledStartTime', SearchAttributeType.DATETIME);

type Deps = { db: Database; temporal: TemporalClients };

/** The idempotency key of a scheduled run: its schedule and the time it was scheduled for. */
export const scheduledRunKey = (scheduleId: string, scheduledAt: Date) =>
  `schedule:${scheduleId}:${scheduledAt.toISOString()}`;

/** When the execution was scheduled for: its search attribute, or the time Temporal appended to its id. */
function scheduledAtOf(execution: WorkflowExecutionInfo): Date | undefined {
  const attribute = execution.typedSearchAttributes.get(SCHEDULED_AT);
  if (attribute) return attribute;
  const suffix = /-(\d{4}-\d{2}-\d{2}T[^-]+Z)$/.exec(execution.workflowId)?.[1];
  const parsed = suffix ? new Date(suffix) : undefined;
  return parsed && !Number.isNaN(parsed.getTime()) ? parsed : undefined;
}

/** Where an environment's scheduled runs are looked for from when no pass has looked yet. */
async function firstLookFrom(db: Database, environmentId: string): Promise<Date | undefined> {
  const [newest] = await db
    .select({ createdAt: runs.createdAt })
    .from(runs)
    .where(and(eq(runs.environmentId, environmentId), isNotNull(runs.scheduleId)))
    .orderBy(desc(runs.createdAt))
    .limit(1);
  return newest ? new Date(newest.createdAt.getTime() - OVERLAP_MS) : undefined;
}

/**
 * Records a run row for each execution `rows` (schedules of `env`) started since `since` (by
 * default, shortly before the newest scheduled run recorded): answers how many were new.
 */
export async function recordScheduledRuns(
  deps: Deps,
  env: Env,
  rows: ScheduleRow[],
  since?: Date,
  /** A retirement records the last runs of the environment it retires. */
  options: { whileRetiring?: boolean } = {},
): Promise<number> {
  if (rows.length === 0) return 0;
  const from = since ?? (await firstLookFrom(deps.db, env.id));
  const byTemporalId = new Map(rows.map((row) => [row.temporalScheduleId, row]));
  const executions = await deps.temporal.inNamespace(env.namespace, 'read', async (client) => {
    const ids = [...byTemporalId.keys()].map((id) => `'${id}'`).join(', ');
    const query =
      `TemporalScheduledById IN (${ids})` + (from ? ` AND StartTime > '${from.toISOString()}'` : '');
    const found: WorkflowExecutionInfo[] = [];
    for await (const execution of client.workflow.list({ query })) found.push(execution);
    return found;
  });
  if (executions.length === 0) return 0;
  // Those recorded already (a previous pass's overlap) are passed over without a transaction.
  const recorded = new Set<string>();
  for (let i = 0; i < executions.length; i += LOOKUP_BATCH) {
    const batch = executions.slice(i, i + LOOKUP_BATCH).map((execution) => execution.workflowId);
    const known = await deps.db
      .select({ workflowId: runs.workflowId })
      .from(runs)
      .where(inArray(runs.workflowId, batch));
    for (const row of known) recorded.add(row.workflowId);
  }
  let added = 0;
  for (const execution of executions) {
    if (recorded.has(execution.workflowId)) continue;
    const schedule = byTemporalId.get(execution.typedSearchAttributes.get(SCHEDULED_BY) ?? '');
    const scheduledAt = scheduledAtOf(execution);
    if (!schedule || !scheduledAt) continue;
    const recordable = options.whileRetiring ? ['active', 'retiring'] : ['active'];
    if (await recordRun(deps.db, env, schedule, execution, scheduledAt, recordable)) added += 1;
  }
  return added;
}

/** One scheduled run's row, unless it is recorded already or its environment's status is not `recordable`. */
async function recordRun(
  db: Database,
  env: Env,
  schedule: ScheduleRow,
  execution: WorkflowExecutionInfo,
  scheduledAt: Date,
  recordable: string[],
): Promise<boolean> {
  const memo = execution.memo ?? {};
  const policyVersion = memo.retentionPolicyVersion;
  return db.transaction(async (tx) => {
    // A retirement waits for this row lock, and then cancels what was recorded: no run row of a
    // retired environment is left running.
    const [current] = await tx
      .select({ status: environments.status })
      .from(environments)
      .where(eq(environments.id, env.id))
      .for('share');
    if (!current || !recordable.includes(current.status)) return false;
    const inserted = await tx
      .insert(runs)
      .values({
        environmentId: env.id,
        integration: schedule.integration,
        workflowId: execution.workflowId,
        temporalRunId: execution.runId,
        idempotencyKey: scheduledRunKey(schedule.id, scheduledAt),
        requestHash: typeof memo.requestHash === 'string' ? memo.requestHash : '',
        createdByKeyId: schedule.createdByKeyId,
        retentionPolicyVersion: typeof policyVersion === 'number' ? policyVersion : null,
        mappingVersion: typeof memo.mappingVersion === 'number' ? memo.mappingVersion : null,
        logDetail: logDetailOf(memo[LOG_DETAIL_MEMO]),
        scheduleId: schedule.id,
        // When it started, not when it was found: the reconciler looks for closes since its runs began.
        createdAt: execution.startTime,
      })
      .onConflictDoNothing()
      .returning({ id: runs.id });
    if (inserted.length === 0) return false;
    await audit(tx, {
      actorKeyId: null,
      action: 'run.started',
      organizationId: env.organizationId,
      environmentId: env.id,
      target: execution.workflowId,
      details: {
        integration: schedule.integration,
        scheduleId: schedule.id,
        scheduledAt: scheduledAt.toISOString(),
      },
    });
    return true;
  });
}

/** In the background, for every active environment with schedules: records what its schedules started. */
export function startScheduledRunRecorder(deps: Deps, onError?: (error: Error) => void) {
  /** Per environment, when its scheduled runs were last looked for. */
  const lookedAt = new Map<string, number>();
  return repeatPass(
    async () => {
      const rows = await deps.db
        .select({ env: environments, schedule: schedules })
        .from(schedules)
        .innerJoin(environments, eq(environments.id, schedules.environmentId))
        .where(eq(environments.status, 'active'));
      const byEnv = new Map<string, { env: Env; schedules: ScheduleRow[] }>();
      for (const { env, schedule } of rows) {
        const entry = byEnv.get(env.id) ?? { env, schedules: [] };
        entry.schedules.push(schedule);
        byEnv.set(env.id, entry);
      }
      for (const { env, schedules: own } of byEnv.values()) {
        const passAt = Date.now();
        const last = lookedAt.get(env.id);
        try {
          await recordScheduledRuns(
            deps,
            env,
            own,
            last === undefined ? undefined : new Date(last - OVERLAP_MS),
          );
          lookedAt.set(env.id, passAt);
        } catch (error) {
          onError?.(error as Error);
        }
      }
      for (const environmentId of lookedAt.keys())
        if (!byEnv.has(environmentId)) lookedAt.delete(environmentId);
    },
    PASS_EVERY_MS,
    onError,
  );
}
