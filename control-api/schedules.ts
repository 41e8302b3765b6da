import { randomUUID } from 'node:crypto';
import { ScheduleNotFoundError } from '@temporalio/client';
import type {
  Client,
  ScheduleDescription,
  ScheduleOptionsAction,
  ScheduleUpdateOptions,
} from '@temporalio/client';
import { and, count, eq, sql } from 'drizzle-orm';
import type { ControlApiConfig, Quotas } from '../common/config.js';
import { LOG_DETAIL_MEMO } from '../common/run-log.js';
import type { RegionRegistry } from '../common/regions.js';
import type { Database } from '../db/client.js';
import { schedules } from '../db/schema.js';
import type { environments } from '../db/schema.js';
import { audit } from './audit.js';
import { assertEnvironmentHolding, lockQuota, organizationQuotas } from './limits/quotas.js';
import { conflict } from './problems.js';
import { currentPolicy } from './retention/policy.js';
import type { RetentionPolicy } from './retention/policy.js';
import { prepareRun, runSearchAttributes } from './runs.js';
import { queueScheduleEvent } from './webhooks/events.js';
import { recordScheduledRuns } from './scheduled-runs.js';
import { checkTiming, temporalOverlap, temporalSpec } from './schedule-spec.js';
import type { OverlapPolicy, ScheduleTiming } from './schedule-spec.js';
import type { TemporalClients } from './temporal-clients.js';

type Env = typeof environments.$inferSelect;
export type ScheduleRow = typeof schedules.$inferSelect;
type Transaction = Parameters<Parameters<Database['transaction']>[0]>[0];

export interface ScheduleDeps {
  db: Database;
  temporal: TemporalClients;
  regions: RegionRegistry;
  payloadLimitBytes: number;
  temporalUiUrl: string;
  /** The shortest interval a schedule may fire at, and the shortest gap of a cron expression's times. */
  minIntervalSeconds: number;
  /** Where the API is reached from outside: the links of webhook events. */
  publicUrl: string;
  /** The configured default quotas; an environment holds at most `schedulesPerEnvironment`. */
  quotas: Quotas;
}

export function scheduleDepsOf(deps: {
  db: Database;
  temporal: TemporalClients;
  config: Pick<
    ControlApiConfig,
    'regions' | 'payloadLimitBytes' | 'temporalUiUrl' | 'scheduleMinIntervalSeconds' | 'publicUrl' | 'quotas'
  >;
}): ScheduleDeps {
  return {
    db: deps.db,
    temporal: deps.temporal,
    regions: deps.config.regions,
    payloadLimitBytes: deps.config.payloadLimitBytes,
    temporalUiUrl: deps.config.temporalUiUrl,
    minIntervalSeconds: deps.config.scheduleMinIntervalSeconds,
    publicUrl: deps.config.publicUrl,
    quotas: deps.config.quotas,
  };
}

/** What a schedule is: what it starts, and when. */
export interface ScheduleFields {
  name: string;
  integration: string;
  connections: Record<string, string>;
  options: Record<string, unknown>;
  timing: ScheduleTiming;
  overlapPolicy: OverlapPolicy;
  catchupWindowSeconds: number;
  paused: boolean;
}

/** The Temporal Schedule's id of a schedule row. */
export const temporalScheduleIdOf = (id: string) => `tavio-schedule-${id}`;

function isUniqueViolation(error: unknown): boolean {
  const cause = (error as { cause?: { code?: string } }).cause;
  return (error as { code?: string }).code === '23505' || cause?.code === '23505';
}

const duplicateName = (name: string) =>
  conflict('duplicate-schedule', `a schedule named ${name} exists in this environment`);

/** Checks what a schedule starts exactly as a run's request, and its timing; changes nothing. */
async function checked(deps: ScheduleDeps, env: Env, fields: ScheduleFields) {
  const timing = checkTiming(fields.timing, deps.minIntervalSeconds);
  const prepared = await prepareRun(deps, env, fields);
  return { fields: { ...fields, timing }, prepared };
}

type Prepared = Awaited<ReturnType<typeof prepareRun>>;

/**
 * The Temporal Schedule of a row: it starts the integration's workflow on the region's queue with
 * the run's arguments (identifiers and options only), the run's search attributes, and a memo like
 * an API-started run's, under the retention policy in force when the schedule was saved. Temporal
 * appends the scheduled time to the workflow id: a scheduled run is unique by schedule and time.
 */
function temporalOptions(
  deps: ScheduleDeps,
  env: Env,
  orgSlug: string,
  id: string,
  fields: ScheduleFields,
  prepared: Prepared,
  policy: RetentionPolicy,
): ScheduleUpdateOptions {
  const action = {
    type: 'startWorkflow',
    workflowType: prepared.workflowType,
    workflowId: `${fields.integration}-schedule-${id}`,
    taskQueue: deps.regions[env.region].taskQueue,
    args: [prepared.input],
    typedSearchAttributes: runSearchAttributes(orgSlug, env, fields.integration),
    memo: {
      tavioScheduleId: id,
      connections: prepared.connectionIds,
      requestHash: prepared.hash,
      mappingVersion: prepared.mappingVersion,
      retentionPolicyVersion: policy.version,
      [LOG_DETAIL_MEMO]: policy.runLogDetail,
    },
  } satisfies ScheduleOptionsAction;
  return {
    spec: temporalSpec(fields.timing),
    action,
    policies: {
      overlap: temporalOverlap(fields.overlapPolicy),
      catchupWindow: fields.catchupWindowSeconds * 1000,
    },
    // The schedule is found in the Web UI by the same attributes as its runs.
    typedSearchAttributes: runSearchAttributes(orgSlug, env, fields.integration),
    state: { paused: fields.paused },
  };
}

const rowValues = (fields: ScheduleFields) => ({
  name: fields.name,
  integration: fields.integration,
  connections: fields.connections,
  options: fields.options,
  spec: fields.timing,
  overlapPolicy: fields.overlapPolicy,
  catchupWindowSeconds: fields.catchupWindowSeconds,
  paused: fields.paused,
});

/** What an audit entry says of a schedule: names and timing, not option values. */
const auditedFields = (fields: ScheduleFields) => ({
  name: fields.name,
  integration: fields.integration,
  connections: fields.connections,
  timing: fields.timing,
  overlapPolicy: fields.overlapPolicy,
  catchupWindowSeconds: fields.catchupWindowSeconds,
  paused: fields.paused,
});

export function assertActive(env: Env, orgSlug: string): void {
  if (env.status !== 'active')
    throw conflict(
      'environment-not-active',
      `environment ${orgSlug}/${env.slug} is ${env.status}, not active`,
    );
}

/**
 * Creates a schedule: its row and its Temporal Schedule, both or neither. The Temporal Schedule
 * is created inside the row's transaction (a failure rolls the row back) and deleted again when
 * the commit fails.
 */
export async function createSchedule(
  deps: ScheduleDeps,
  env: Env,
  orgSlug: string,
  given: ScheduleFields,
  note: string | undefined,
  actorKeyId: string,
): Promise<ScheduleRow> {
  assertActive(env, orgSlug);
  const { fields, prepared } = await checked(deps, env, given);
  const [taken] = await deps.db
    .select({ id: schedules.id })
    .from(schedules)
    .where(and(eq(schedules.environmentId, env.id), eq(schedules.name, fields.name)));
  if (taken) throw duplicateName(fields.name);
  const policy = await currentPolicy(deps.db, env.id);
  const id = randomUUID();
  const temporalScheduleId = temporalScheduleIdOf(id);
  const options = temporalOptions(deps, env, orgSlug, id, fields, prepared, policy);
  // The namespace's token and payload key are in hand before the transaction takes a connection.
  return deps.temporal.inNamespace(env.namespace, 'write', async (client) => {
    let created = false;
    try {
      return await deps.db.transaction(async (tx) => {
        await lockQuota(tx, `schedules:${env.id}`);
        const [held] = await tx
          .select({ n: count() })
          .from(schedules)
          .where(eq(schedules.environmentId, env.id));
        const quotas = await organizationQuotas(tx, deps.quotas, env.organizationId);
        assertEnvironmentHolding(quotas, 'schedulesPerEnvironment', held!.n);
        const [row] = await tx
          .insert(schedules)
          .values({
            id,
            environmentId: env.id,
            ...rowValues(fields),
            temporalScheduleId,
            createdByKeyId: actorKeyId,
          })
          .returning();
        await audit(tx, {
          actorKeyId,
          action: 'schedule.created',
          organizationId: env.organizationId,
          environmentId: env.id,
          target: temporalScheduleId,
          details: auditedFields(fields),
        });
        await client.schedule.create({
          scheduleId: temporalScheduleId,
          ...options,
          state: { paused: fields.paused, note },
          memo: { tavioScheduleId: id },
        });
        created = true;
        return row!;
      });
    } catch (error) {
      if (created)
        await client.schedule
          .getHandle(temporalScheduleId)
          .delete()
          .catch(() => undefined);
      if (isUniqueViolation(error)) throw duplicateName(fields.name);
      throw error;
    }
  });
}

/** The fields a row holds. */
export function fieldsOf(row: ScheduleRow): ScheduleFields {
  return {
    name: row.name,
    integration: row.integration,
    connections: row.connections,
    options: row.options,
    timing: row.spec,
    overlapPolicy: row.overlapPolicy as OverlapPolicy,
    catchupWindowSeconds: row.catchupWindowSeconds,
    paused: row.paused,
  };
}

/**
 * Changes a schedule: the row and the Temporal Schedule (updated in place) together. The row
 * changes only if no other change came first (409 otherwise); the Temporal update happens inside
 * its transaction, and is undone when the commit fails.
 */
export async function updateSchedule(
  deps: ScheduleDeps,
  env: Env,
  orgSlug: string,
  row: ScheduleRow,
  changed: ScheduleFields,
  actorKeyId: string,
): Promise<ScheduleRow> {
  assertActive(env, orgSlug);
  const { fields, prepared } = await checked(deps, env, changed);
  const policy = await currentPolicy(deps.db, env.id);
  const options = temporalOptions(deps, env, orgSlug, row.id, fields, prepared, policy);
  return deps.temporal.inNamespace(env.namespace, 'write', async (client) => {
    const handle = client.schedule.getHandle(row.temporalScheduleId);
    let previous: ScheduleDescription | undefined;
    try {
      return await deps.db.transaction(async (tx) => {
        const updated = await saveRow(tx, row, rowValues(fields), fields.name);
        await audit(tx, {
          actorKeyId,
          action: 'schedule.updated',
          organizationId: env.organizationId,
          environmentId: env.id,
          target: row.temporalScheduleId,
          details: { previous: auditedFields(fieldsOf(row)), current: auditedFields(fields) },
        });
        if (row.paused !== fields.paused) await announcePausedChange(deps, tx, env, updated);
        await handle.update((current) => {
          previous = current;
          return { ...options, state: { ...current.state, paused: fields.paused } };
        });
        return updated;
      });
    } catch (error) {
      if (previous) {
        const { spec, action, policies, typedSearchAttributes, state } = previous;
        await handle
          .update(() => ({ spec, action, policies, typedSearchAttributes, state }) as ScheduleUpdateOptions)
          .catch(() => undefined);
      }
      if (isUniqueViolation(error)) throw duplicateName(fields.name);
      throw error;
    }
  });
}

/**
 * Brings what an environment's schedules start (all, or those `which` selects) in step with what a
 * run started now would get: the connection pair's newest field mapping, the retention policy in
 * force. Called after either changes; timing and paused state stay as they are. Answers how many
 * schedules were updated.
 */
export async function refreshScheduleActions(
  deps: ScheduleDeps,
  env: Env,
  orgSlug: string,
  which: (row: ScheduleRow) => boolean = () => true,
): Promise<number> {
  const rows = (await deps.db.select().from(schedules).where(eq(schedules.environmentId, env.id))).filter(
    which,
  );
  if (rows.length === 0) return 0;
  const policy = await currentPolicy(deps.db, env.id);
  for (const row of rows) {
    const fields = fieldsOf(row);
    const prepared = await prepareRun(deps, env, fields);
    const { action } = temporalOptions(deps, env, orgSlug, row.id, fields, prepared, policy);
    await deps.temporal.inNamespace(env.namespace, 'write', (client) =>
      client.schedule.getHandle(row.temporalScheduleId).update((current) => ({ ...current, action })),
    );
  }
  return rows.length;
}

/** Updates a row that no other change moved since it was read; 409 otherwise. */
async function saveRow(tx: Transaction, row: ScheduleRow, values: Partial<ScheduleRow>, name = row.name) {
  const [updated] = await tx
    .update(schedules)
    .set({ ...values, updatedAt: new Date() })
    // The row as read carries milliseconds; the database keeps microseconds.
    .where(
      and(
        eq(schedules.id, row.id),
        sql`date_trunc('milliseconds', ${schedules.updatedAt}) = ${row.updatedAt.toISOString()}::timestamptz`,
      ),
    )
    .returning();
  if (!updated)
    throw conflict(
      'schedule-changed',
      `schedule ${name} changed meanwhile; read it again and repeat the change`,
    );
  return updated;
}

/**
 * The one place a schedule's pause or resume is announced: called inside the transaction that
 * changes its row (pause, resume, or a change of `paused`), with the row as changed. Webhook events
 * (`schedule.paused`, `schedule.resumed`) are queued here, so that they leave if and only if the
 * change commits.
 */
async function announcePausedChange(
  deps: ScheduleDeps,
  tx: Transaction,
  env: Env,
  row: ScheduleRow,
): Promise<void> {
  await queueScheduleEvent(tx, deps, env, row.paused ? 'schedule.paused' : 'schedule.resumed', row);
}

/** Pauses or resumes a schedule, the row and the Temporal Schedule together. */
export async function setPaused(
  deps: ScheduleDeps,
  env: Env,
  orgSlug: string,
  row: ScheduleRow,
  paused: boolean,
  note: string | undefined,
  actorKeyId: string,
): Promise<ScheduleRow> {
  assertActive(env, orgSlug);
  return deps.temporal.inNamespace(env.namespace, 'write', async (client) => {
    const handle = client.schedule.getHandle(row.temporalScheduleId);
    return deps.db.transaction(async (tx) => {
      const updated = await saveRow(tx, row, { paused });
      await audit(tx, {
        actorKeyId,
        action: paused ? 'schedule.paused' : 'schedule.resumed',
        organizationId: env.organizationId,
        environmentId: env.id,
        target: row.temporalScheduleId,
        details: { name: row.name, ...(note ? { note } : {}) },
      });
      await announcePausedChange(deps, tx, env, updated);
      const text = note ?? (paused ? 'paused through the Tavio API' : 'resumed through the Tavio API');
      if (paused) await handle.pause(text);
      else await handle.unpause(text);
      return updated;
    });
  });
}

/** Deletes a Temporal Schedule; one already gone, or whose namespace is gone, counts as deleted. */
export async function deleteTemporalSchedule(client: Client, temporalScheduleId: string): Promise<void> {
  try {
    await client.schedule.getHandle(temporalScheduleId).delete();
  } catch (error) {
    if (error instanceof ScheduleNotFoundError) return;
    if ((error as { cause?: { code?: number } }).cause?.code === 5) return;
    throw error;
  }
}

/** Deletes a schedule: its Temporal Schedule, inside the transaction that deletes its row. */
export async function deleteSchedule(
  deps: Pick<ScheduleDeps, 'db' | 'temporal'>,
  env: Env,
  row: ScheduleRow,
  actorKeyId: string | null,
  reason?: string,
): Promise<void> {
  await deps.temporal.inNamespace(env.namespace, 'write', (client) =>
    deps.db.transaction(async (tx) => {
      await tx.delete(schedules).where(eq(schedules.id, row.id));
      await audit(tx, {
        actorKeyId,
        action: 'schedule.deleted',
        organizationId: env.organizationId,
        environmentId: env.id,
        target: row.temporalScheduleId,
        details: { name: row.name, integration: row.integration, ...(reason ? { reason } : {}) },
      });
      await deleteTemporalSchedule(client, row.temporalScheduleId);
    }),
  );
}

/**
 * An early step of retiring an environment: its Temporal Schedules are deleted, what they started
 * is recorded (so that those runs are canceled with the others), and their rows are deleted,
 * audited. Schedules already gone count as deleted, so a resumed retirement repeats the step.
 * Answers how many rows were deleted.
 */
export async function retireSchedules(
  deps: Pick<ScheduleDeps, 'db' | 'temporal'>,
  env: Env,
  actorKeyId: string,
): Promise<number> {
  const rows = await deps.db.select().from(schedules).where(eq(schedules.environmentId, env.id));
  if (rows.length === 0) return 0;
  // Nothing fires during the retirement: every Temporal Schedule goes before anything else.
  await deps.temporal.inNamespace(env.namespace, 'write', async (client) => {
    for (const row of rows) await deleteTemporalSchedule(client, row.temporalScheduleId);
  });
  await recordScheduledRuns(deps, env, rows, undefined, { whileRetiring: true }).catch(() => undefined);
  for (const row of rows) await deleteSchedule(deps, env, row, actorKeyId, 'environment retired');
  return rows.length;
}
