import { QueryNotRegisteredError } from '@temporalio/client';
import type { z } from 'zod';
import type { environments, runs } from '../db/schema.js';
import type { runProgressSchema } from './openapi-schemas.js';
import type { RunDeps } from './runs.js';
import { waitingReason } from './runs.js';

type Env = typeof environments.$inferSelect;
type RunRow = typeof runs.$inferSelect;

/** The name of the query an integration's workflow answers its progress with (counts, never records). */
export const PROGRESS_QUERY = 'progress';
/** How long a progress query may wait for the workflow's worker before the request answers without it. */
export const PROGRESS_QUERY_WAIT_MS = 2_000;

/** Times that summaries carry among their counts; a view has its own. */
const NOT_COUNTS = new Set(['durationMs']);

/** A run's progress: counts and times only, from its workflow while it runs, from its summary once closed. */
export type RunProgress = z.output<typeof runProgressSchema>;

/**
 * The top-level counts of a query answer or summary: non-negative integers only. Cursors,
 * checksums, digests by file and egress by host are left out, and so is anything else that is not
 * a plain count.
 */
export function countsOf(value: unknown): Record<string, number> | null {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return null;
  const counts: Record<string, number> = {};
  for (const [name, figure] of Object.entries(value)) {
    if (NOT_COUNTS.has(name)) continue;
    if (typeof figure === 'number' && Number.isSafeInteger(figure) && figure >= 0) counts[name] = figure;
  }
  return Object.keys(counts).length > 0 ? counts : null;
}

/** Asks the running workflow for its progress, for at most PROGRESS_QUERY_WAIT_MS. */
async function queryProgress(
  deps: RunDeps,
  env: Env,
  row: RunRow,
): Promise<{ counts: Record<string, number> | null; reason: string | null }> {
  try {
    const answer = await deps.temporal.inNamespace(env.namespace, 'read', (client) =>
      client.withDeadline(Date.now() + PROGRESS_QUERY_WAIT_MS, () =>
        client.workflow.getHandle(row.workflowId).query<unknown>(PROGRESS_QUERY),
      ),
    );
    const counts = countsOf(answer);
    return { counts, reason: counts ? null : 'the workflow reported no counts yet' };
  } catch (error) {
    // The reason is named here, never taken from the error: the answer carries counts and times only.
    if (error instanceof QueryNotRegisteredError)
      return { counts: null, reason: `integration ${row.integration} reports no progress while it runs` };
    return {
      counts: null,
      reason: `the workflow did not answer its progress query within ${PROGRESS_QUERY_WAIT_MS} ms`,
    };
  }
}

/**
 * A run's progress. A running run's counts come from its workflow's `progress` query (read role),
 * asked only when a worker of its region polls and given a short deadline, so a run waiting for a
 * worker never holds the request; a closed run's come from its summary. Reads change nothing.
 */
export async function runProgress(deps: RunDeps, env: Env, row: RunRow): Promise<RunProgress> {
  const base = {
    runId: row.id,
    integration: row.integration,
    status: row.status,
    startedAt: row.createdAt.toISOString(),
    closedAt: row.closedAt?.toISOString() ?? null,
    elapsedMs: Math.max(0, (row.closedAt?.getTime() ?? Date.now()) - row.createdAt.getTime()),
  };
  if (row.status !== 'running') {
    const counts = countsOf(row.summary);
    return {
      ...base,
      progress: counts,
      source: counts ? 'summary' : null,
      unavailableReason: counts ? null : `the run ended ${row.status} without a summary`,
      waitingFor: null,
    };
  }
  const waitingFor = await waitingReason(deps, env, row);
  if (waitingFor)
    return {
      ...base,
      progress: null,
      source: null,
      unavailableReason: 'no worker runs the workflow yet',
      waitingFor,
    };
  const { counts, reason } = await queryProgress(deps, env, row);
  return {
    ...base,
    progress: counts,
    source: counts ? 'workflow' : null,
    unavailableReason: reason,
    waitingFor: null,
  };
}
