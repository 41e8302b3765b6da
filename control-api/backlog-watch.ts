import proto from '@temporalio/proto';
import { and, eq, notExists } from 'drizzle-orm';
import type { Database } from '../db/client.js';
import { environments, runs } from '../db/schema.js';
import type { RegionRegistry } from '../common/regions.js';
import { repeatPass } from './repeated-pass.js';
import type { TemporalClients } from './temporal-clients.js';

const { TaskQueueKind, TaskQueueType } = proto.temporal.api.enums.v1;

/** How many namespaces are asked at once: a pass over 200 environments stays a few round trips deep. */
const CONCURRENCY = 8;

/**
 * Which active environments have tasks waiting on their region's task queue that no worker takes:
 * the signal autoscalers of Temporal workers scale on. Region hosts start an idle environment's
 * worker when the control API reports either running runs or such a backlog, so work that no API
 * call started (a retry after its worker stopped, a schedule, a timer) wakes the worker too.
 * Each pass asks every active namespace without a running run for its workflow and activity
 * queues' statistics, with a read token of that namespace; several control API processes may each
 * run one.
 */
export function startBacklogWatch(
  deps: { db: Database; temporal: TemporalClients; regions: RegionRegistry },
  options: { intervalMs?: number; onError?: (error: Error) => void } = {},
) {
  const intervalMs = options.intervalMs ?? 1_000;
  let backlogged = new Set<string>();

  async function hasBacklog(namespace: string, taskQueue: string): Promise<boolean> {
    return deps.temporal.inNamespace(namespace, 'read', async (client) => {
      const counts = await Promise.all(
        [TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW, TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY].map(
          async (taskQueueType) => {
            const answer = await client.workflowService.describeTaskQueue({
              namespace,
              taskQueue: { name: taskQueue, kind: TaskQueueKind.TASK_QUEUE_KIND_NORMAL },
              taskQueueType,
              reportStats: true,
            });
            return Number(answer.stats?.approximateBacklogCount ?? 0);
          },
        ),
      );
      return counts.some((count) => count > 0);
    });
  }

  async function pass(): Promise<void> {
    // An environment with a running run has work already: only the others are asked.
    const active = await deps.db
      .select({ id: environments.id, namespace: environments.namespace, region: environments.region })
      .from(environments)
      .where(
        and(
          eq(environments.status, 'active'),
          notExists(
            deps.db
              .select({ id: runs.id })
              .from(runs)
              .where(and(eq(runs.environmentId, environments.id), eq(runs.status, 'running'))),
          ),
        ),
      );
    const found = new Set<string>();
    let next = 0;
    const askNext = async (): Promise<void> => {
      while (next < active.length) {
        const env = active[next++]!;
        try {
          if (await hasBacklog(env.namespace, deps.regions[env.region].taskQueue)) found.add(env.id);
        } catch (error) {
          // Unknown this pass: keep what the previous pass saw.
          if (backlogged.has(env.id)) found.add(env.id);
          options.onError?.(error as Error);
        }
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, askNext));
    backlogged = found;
  }

  const passes = repeatPass(pass, intervalMs, options.onError);
  return {
    /** Whether the last pass saw tasks waiting in the environment's namespace. */
    backlogged: (environmentId: string): boolean => backlogged.has(environmentId),
    stop: passes.stop,
  };
}
export type BacklogWatch = ReturnType<typeof startBacklogWatch>;
