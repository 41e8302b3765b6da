import proto from '@temporalio/proto';
import { and, eq, inArray } from 'drizzle-orm';
import { environments, runs } from '../db/schema.js';
import type { RunDeps } from './runs.js';
import { refreshRun } from './runs.js';
import { repeatPass } from './repeated-pass.js';

type Env = typeof environments.$inferSelect;
type RunRow = typeof runs.$inferSelect;

/**
 * Moves run rows forward when their workflows close, in the background: reads of runs only read
 * rows, and a list never fans out to Temporal. Two paths lead to the same update of a row (status,
 * summary, failure, residency) when its workflow closed after shortly before the row was created:
 * - every running run (up to MAX_WATCHES per process) is watched by a long poll of its history
 *   for its close event, so that its row moves as soon as its workflow closes. A poll ends with
 *   Temporal's long-poll timeout, a continue-as-new or a refused token; the next pass starts
 *   another.
 * - every VISIBILITY_EVERY_MS, each namespace that has running runs is asked which of its
 *   executions closed since it was last asked (one visibility query per namespace): what a
 *   watch missed (a poll that failed, another process's restart) is found there.
 * An update applies to a row that is still running only, so several control API processes may
 * each run a reconciler.
 */

/** Closed executions are looked for from a little before the previous pass: visibility lags. */
const OVERLAP_MS = 5_000;
const VISIBILITY_EVERY_MS = 5_000;
/** Runs watched at once by one process; the visibility query finds the others' closes. */
const MAX_WATCHES = 200;
/** A watch that ends within this without moving its row waits before the next (a growing delay). */
const QUICK_MS = 1_000;
const MAX_BACKOFF_MS = 60_000;

export function startRunReconciler(
  deps: RunDeps,
  options: { intervalMs?: number; onError?: (error: Error) => void } = {},
) {
  const intervalMs = options.intervalMs ?? 500;
  /** Per environment, when its namespace was last asked. */
  const askedAt = new Map<string, number>();
  /** Per environment, when its namespace was last queried (askedAt is a little earlier). */
  const queriedAt = new Map<string, number>();
  /** The runs whose close is being waited for, by row id. */
  const watches = new Map<string, Promise<void>>();
  /** Runs whose watches ended quickly without moving them: when to watch again, and how often it happened. */
  const backoff = new Map<string, { until: number; times: number }>();
  const stopping = new AbortController();

  async function reconcileEnvironment(env: Env, since: number): Promise<void> {
    const closed = await deps.temporal.inNamespace(env.namespace, 'read', async (client) => {
      const query = `ExecutionStatus != 'Running' AND CloseTime > '${new Date(since).toISOString()}'`;
      const ids = new Set<string>();
      for await (const execution of client.workflow.list({ query })) ids.add(execution.workflowId);
      return [...ids];
    });
    if (closed.length === 0) return;
    const rows = await deps.db
      .select()
      .from(runs)
      .where(
        and(eq(runs.environmentId, env.id), eq(runs.status, 'running'), inArray(runs.workflowId, closed)),
      );
    for (const row of rows) await refreshRun(deps, env, row);
  }

  /**
   * Waits for the close event of a run's current execution, then updates its row; answers whether
   * the watch has done its part (the row moved, or the long poll ran its course).
   */
  async function watch(env: Env, row: RunRow): Promise<boolean> {
    // A signal of its own, which each call of the poll listens to, is dropped with the watch.
    const own = new AbortController();
    const abort = () => own.abort();
    stopping.signal.addEventListener('abort', abort, { once: true });
    const started = Date.now();
    try {
      const answer = await deps.temporal.inNamespace(env.namespace, 'read', (client) =>
        client.withAbortSignal(own.signal, () =>
          client.workflowService.getWorkflowExecutionHistory({
            namespace: env.namespace,
            execution: { workflowId: row.workflowId },
            waitNewEvent: true,
            historyEventFilterType:
              proto.temporal.api.enums.v1.HistoryEventFilterType.HISTORY_EVENT_FILTER_TYPE_CLOSE_EVENT,
            skipArchival: true,
          }),
        ),
      );
      const event = answer.history?.events?.[0];
      const closed = event?.eventTime;
      // No event: the long poll timed out. After a continue-as-new the next pass watches the new
      // execution.
      if (!closed) return true;
      if (
        event.eventType ===
        proto.temporal.api.enums.v1.EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW
      )
        return true;
      const closedAt = Number(closed.seconds ?? 0) * 1000 + Math.floor((closed.nanos ?? 0) / 1e6);
      if (closedAt <= row.createdAt.getTime() - OVERLAP_MS) return Date.now() - started >= QUICK_MS;
      return (await refreshRun(deps, env, row)).status !== 'running' || Date.now() - started >= QUICK_MS;
    } finally {
      stopping.signal.removeEventListener('abort', abort);
    }
  }

  function startWatching(env: Env, row: RunRow): void {
    if (watches.has(row.id) || watches.size >= MAX_WATCHES || stopping.signal.aborted) return;
    if ((backoff.get(row.id)?.until ?? 0) > Date.now()) return;
    // A poll that fails (a token that expired, a namespace being retired) is not reported: the
    // visibility query, which reports its failures, backs it up. Watches that keep ending at once
    // without moving their row (a failure, a close from before the row) are tried less and less often.
    const watching = watch(env, row)
      .catch(() => false)
      .then((done) => {
        if (done) {
          backoff.delete(row.id);
          return;
        }
        const times = (backoff.get(row.id)?.times ?? 0) + 1;
        backoff.set(row.id, { until: Date.now() + Math.min(MAX_BACKOFF_MS, 1_000 * 2 ** times), times });
      })
      .finally(() => watches.delete(row.id));
    watches.set(row.id, watching);
  }

  async function pass(): Promise<void> {
    // Retired environments' runs were canceled with them, and their namespaces are gone.
    const rows = await deps.db
      .select({ env: environments, run: runs })
      .from(runs)
      .innerJoin(environments, eq(environments.id, runs.environmentId))
      .where(and(eq(runs.status, 'running'), eq(environments.status, 'active')));
    const running = new Map<string, { env: Env; oldest: number }>();
    for (const { env, run } of rows) {
      startWatching(env, run);
      const known = running.get(env.id);
      const created = run.createdAt.getTime();
      if (!known || created < known.oldest) running.set(env.id, { env, oldest: created });
    }
    const started = Date.now();
    const due = [...running.values()].filter(
      ({ env }) => started - (queriedAt.get(env.id) ?? 0) >= VISIBILITY_EVERY_MS,
    );
    // Namespaces are asked side by side: one slow namespace does not hold the others back.
    await Promise.all(
      due.map(async ({ env, oldest }) => {
        const since = askedAt.get(env.id) ?? oldest - OVERLAP_MS;
        try {
          await reconcileEnvironment(env, since);
          askedAt.set(env.id, started - OVERLAP_MS);
          queriedAt.set(env.id, started);
        } catch (error) {
          options.onError?.(error as Error);
        }
      }),
    );
    const runIds = new Set(rows.map(({ run }) => run.id));
    for (const runId of backoff.keys()) if (!runIds.has(runId)) backoff.delete(runId);
    for (const environmentId of askedAt.keys())
      if (!running.has(environmentId)) {
        askedAt.delete(environmentId);
        queriedAt.delete(environmentId);
      }
  }

  const passes = repeatPass(pass, intervalMs, options.onError);
  return {
    /** Resolves once no pass runs, every watch has ended, and none will start. */
    async stop(): Promise<void> {
      stopping.abort();
      await passes.stop();
      await Promise.all(watches.values());
    },
  };
}
