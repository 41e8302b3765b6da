import { randomUUID } from 'node:crypto';
import { ScheduleNotFoundError } from '@temporalio/client';
import type { ScheduleDescription, ScheduleOptionsAction, ScheduleUpdateOptions } from '@temporalio/client';
import { and, count, eq, sql } from 'drizzle-orm';
import type { ControlApiConfig, Quotas } from '../common/config.js';
import { LOG_DETAIL_MEMO } from '../common/run-log.js';
import type { RegionRegistry } from '../common/regions.js';
import type { Database } from '../db/client.js';
import { schedules } from '../db/schema.js';
import type { environments } from '../db/schema.js';
import { audit } from './audit.js';
import { assertEnvironmentHolding, lockQuota, organizationQuotas } from './limits/quotas.js';
import { assertEnvironmentActive, conflict, isUniqueViolation, notFound, unprocessable } from './problems.js';
import { currentPolicy } from './retention/policy.js';
import type { RetentionPolicy } from './retention/policy.js';
import { prepareRun, runSearchAttributes } from './runs.js';
import { queueScheduleEvent } from './webhooks/events.js';
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

/** gRPC's status of an argument the server refuses. */
const INVALID_ARGUMENT = 3;

/**
 * What a Temporal error means for a schedule's request: a Temporal Schedule gone is 404 (deleted
 * meanwhile); a timing Temporal refuses (a spec its parser or time zone database does not take,
 * which the client raises as a TypeError) is 422 naming the timing. Anything else stays as it is.
 */
export function scheduleProblem(error: unknown, row: { id: string }, timing?: ScheduleTiming): unknown {
  if (error instanceof ScheduleNotFoundError) return notFound(`schedule ${row.id}`);
  const code = (error as { code?: unknown; cause?: { code?: unknown } }).cause?.code;
  if (timing && (error instanceof TypeError || code === INVALID_ARGUMENT)) {
    const what =
      timing.cron !== undefined ? `cron "${timing.cron}"` : `intervalSeconds ${timing.intervalSeconds}`;
    const reason = (error as Error).message.slice(0, 200);
    return unprocessable(
      'invalid-schedule-timing',
      `timing: Temporal refused ${what} in time zone ${timing.timeZone}: ${reason}`,
    );
  }
  return error;
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
  assertEnvironmentActive(orgSlug, env);
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
        await client.schedule
          .create({
            scheduleId: temporalScheduleId,
            ...options,
            state: { paused: fields.paused, note },
            memo: { tavioScheduleId: id },
          })
          .catch((error: unknown) => {
            throw scheduleProblem(error, { id }, fields.timing);
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
 * its transaction, and is undone when the commit fails. What the schedule starts is built while
 * the row is held, as `refreshScheduleActions` builds it: the two take turns, and the later one
 * writes what is current.
 */
export async function updateSchedule(
  deps: ScheduleDeps,
  env: Env,
  orgSlug: string,
  row: ScheduleRow,
  changed: ScheduleFields,
  actorKeyId: string,
): Promise<ScheduleRow> {
  assertEnvironmentActive(orgSlug, env);
  // Bad input is refused before anything is held.
  const { fields } = await checked(deps, env, changed);
  return deps.temporal.inNamespace(env.namespace, 'write', async (client) => {
    const handle = client.schedule.getHandle(row.temporalScheduleId);
    let previous: ScheduleDescription | undefined;
    try {
      return await deps.db.transaction(async (tx) => {
        // The update holds the row until the commit.
        const updated = await saveRow(tx, row, rowValues(fields), fields.name);
        const prepared = await prepareRun(deps, env, fields);
        const policy = await currentPolicy(tx, env.id);
        const options = temporalOptions(deps, env, orgSlug, row.id, fields, prepared, policy);
        await audit(tx, {
          actorKeyId,
          action: 'schedule.updated',
          organizationId: env.organizationId,
          environmentId: env.id,
          target: row.temporalScheduleId,
          details: { previous: auditedFields(fieldsOf(row)), current: auditedFields(fields) },
        });
        if (row.paused !== fields.paused) await announcePausedChange(deps, tx, env, updated);
        await handle
          .update((current) => {
            previous = current;
            return { ...options, state: { ...current.state, paused: fields.paused } };
          })
          .catch((error: unknown) => {
            throw scheduleProblem(error, row, fields.timing);
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

/** Where a failure of a step that does not fail its request is logged (a route's `request.log`). */
export interface StepLog {
  warn(details: Record<string, unknown>, message: string): void;
}

/**
 * Brings what an environment's schedules start (all, or those `which` selects) in step with what a
 * run started now would get: the connection pair's newest field mapping, the retention policy in
 * force. Called after either changes; timing and paused state stay as they are. Each schedule is
 * refreshed in its own transaction holding its row, from the row as held (a change of the schedule
 * meanwhile waits, or is waited for). A schedule that cannot be refreshed is logged and passed
 * over: the change that called for the refresh is committed already, and the schedule's next
 * change rebuilds what it starts. Answers how many schedules were refreshed and how many failed.
 */
export async function refreshScheduleActions(
  deps: ScheduleDeps,
  env: Env,
  orgSlug: string,
  log: StepLog,
  which: (row: ScheduleRow) => boolean = () => true,
): Promise<{ refreshed: number; failed: number }> {
  const result = { refreshed: 0, failed: 0 };
  const rows = (await deps.db.select().from(schedules).where(eq(schedules.environmentId, env.id))).filter(
    which,
  );
  for (const row of rows) {
    try {
      await deps.temporal.inNamespace(env.namespace, 'write', (client) =>
        deps.db.transaction(async (tx) => {
          const [held] = await tx.select().from(schedules).where(eq(schedules.id, row.id)).for('update');
          if (!held || !which(held)) return;
          const fields = fieldsOf(held);
          const prepared = await prepareRun(deps, env, fields);
          const policy = await currentPolicy(tx, env.id);
          const { action } = temporalOptions(deps, env, orgSlug, held.id, fields, prepared, policy);
          await client.schedule
            .getHandle(held.temporalScheduleId)
            .update((current) => ({ ...current, action }));
        }),
      );
      result.refreshed += 1;
    } catch (error) {
      result.failed += 1;
      log.warn(
        { scheduleId: row.id, err: (error as Error).message },
        'schedule not refreshed; its next change refreshes it',
      );
    }
  }
  return result;
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
  assertEnvironmentActive(orgSlug, env);
  return deps.temporal.inNamespace(env.namespace, 'write', async (client) => {
    const handle = client.schedule.getHandle(row.temporalScheduleId);
    const change = deps.db.transaction(async (tx) => {
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
    return change.catch((error: unknown) => {
      throw scheduleProblem(error, row);
    });
  });
}
