import { ScheduleNotFoundError } from '@temporalio/client';
import type { Client } from '@temporalio/client';
import { eq } from 'drizzle-orm';
import { schedules } from '../db/schema.js';
import type { environments } from '../db/schema.js';
import { audit } from './audit.js';
import { recordScheduledRuns } from './scheduled-runs.js';
import type { ScheduleDeps, ScheduleRow, StepLog } from './schedules.js';

/** How a schedule ends: deleted on request, or with its environment. */

type Env = typeof environments.$inferSelect;

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
 * Deletes a schedule on request, in the order a retirement uses: its Temporal Schedule first (one
 * already gone counts as deleted), so that nothing fires after its runs are recorded; then what it
 * started is recorded (a failure is logged: the run recorder's pass can no longer find them, but
 * Temporal keeps them); then its row, audited.
 */
export async function removeSchedule(
  deps: Pick<ScheduleDeps, 'db' | 'temporal'>,
  env: Env,
  row: ScheduleRow,
  actorKeyId: string,
  log: StepLog,
): Promise<void> {
  await deps.temporal.inNamespace(env.namespace, 'write', (client) =>
    deleteTemporalSchedule(client, row.temporalScheduleId),
  );
  await recordScheduledRuns(deps, env, [row]).catch((error: Error) =>
    log.warn({ scheduleId: row.id, err: error.message }, 'scheduled runs not recorded'),
  );
  await deleteSchedule(deps, env, row, actorKeyId);
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
