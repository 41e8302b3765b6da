import { ScheduleNotFoundError } from '@temporalio/client';
import type { environments } from '../db/schema.js';
import type { OverlapPolicy } from './schedule-spec.js';
import type { ScheduleDeps, ScheduleRow } from './schedules.js';

type Env = typeof environments.$inferSelect;

/** Temporal's view of a schedule: its state, next and recent actions; null when it is missing. */
export async function describeSchedule(deps: Pick<ScheduleDeps, 'temporal'>, env: Env, row: ScheduleRow) {
  const description = await deps.temporal
    .inNamespace(env.namespace, 'read', (client) =>
      client.schedule.getHandle(row.temporalScheduleId).describe(),
    )
    .catch((error: unknown) => {
      if (error instanceof ScheduleNotFoundError) return null;
      throw error;
    });
  if (!description) return null;
  const { info, state } = description;
  return {
    paused: state.paused,
    note: state.note ?? null,
    nextActionTimes: info.nextActionTimes.map((at) => at.toISOString()),
    recentActions: info.recentActions.map((action) => ({
      scheduledAt: action.scheduledAt.toISOString(),
      takenAt: action.takenAt.toISOString(),
      workflowId: action.action.workflow.workflowId,
    })),
    runningWorkflowIds: info.runningActions.map((action) => action.workflow.workflowId),
    actionsTaken: info.numActionsTaken,
    actionsSkippedOverlap: info.numActionsSkippedOverlap,
    actionsMissedCatchupWindow: info.numActionsMissedCatchupWindow,
  };
}

export function scheduleView(
  deps: Pick<ScheduleDeps, 'temporalUiUrl'>,
  env: Env,
  row: ScheduleRow,
  temporal?: Awaited<ReturnType<typeof describeSchedule>>,
) {
  return {
    id: row.id,
    name: row.name,
    integration: row.integration,
    connections: row.connections,
    options: row.options,
    cron: row.spec.cron ?? null,
    intervalSeconds: row.spec.intervalSeconds ?? null,
    timeZone: row.spec.timeZone,
    overlapPolicy: row.overlapPolicy as OverlapPolicy,
    catchupWindowSeconds: row.catchupWindowSeconds,
    paused: row.paused,
    namespace: env.namespace,
    temporalScheduleId: row.temporalScheduleId,
    webUiUrl: `${deps.temporalUiUrl}/namespaces/${encodeURIComponent(env.namespace)}/schedules/${encodeURIComponent(row.temporalScheduleId)}`,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
    ...(temporal === undefined ? {} : { temporal }),
  };
}
