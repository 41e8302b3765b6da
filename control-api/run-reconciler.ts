import { and, eq, inArray, min } from 'drizzle-orm';
import { environments, runs } from '../db/schema.js';
import type { RunDeps } from './runs.js';
import { refreshRun } from './runs.js';
import { repeatPass } from './repeated-pass.js';

type Env = typeof environments.$inferSelect;

/**
 * Moves run rows forward when their workflows close, in the background: reads of runs only read
 * rows, and a list never fans out to Temporal. Each pass asks each namespace that has running runs
 * which of its executions closed since the previous pass (one visibility query per namespace), and
 * updates those runs' rows once (status, summary, failure, residency). Several control API
 * processes may each run one: an update applies to a row that is still running only.
 */

/** Closed executions are looked for from a little before the previous pass: visibility lags. */
const OVERLAP_MS = 5_000;

export function startRunReconciler(
  deps: RunDeps,
  options: { intervalMs?: number; onError?: (error: Error) => void } = {},
) {
  const intervalMs = options.intervalMs ?? 500;
  /** Per environment, when its namespace was last asked. */
  const askedAt = new Map<string, number>();

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

  async function pass(): Promise<void> {
    // Retired environments' runs were canceled with them, and their namespaces are gone.
    const running = await deps.db
      .select({ env: environments, oldest: min(runs.createdAt) })
      .from(runs)
      .innerJoin(environments, eq(environments.id, runs.environmentId))
      .where(and(eq(runs.status, 'running'), eq(environments.status, 'active')))
      .groupBy(environments.id);
    const started = Date.now();
    // Namespaces are asked side by side: one slow namespace does not hold the others back.
    await Promise.all(
      running.map(async ({ env, oldest }) => {
        const since = askedAt.get(env.id) ?? (oldest?.getTime() ?? started) - OVERLAP_MS;
        try {
          await reconcileEnvironment(env, since);
          askedAt.set(env.id, started - OVERLAP_MS);
        } catch (error) {
          options.onError?.(error as Error);
        }
      }),
    );
    for (const environmentId of askedAt.keys())
      if (!running.some((r) => r.env.id === environmentId)) askedAt.delete(environmentId);
  }

  return repeatPass(pass, intervalMs, options.onError);
}
