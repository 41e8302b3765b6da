import type { Run, RunStatus, TavioClient } from '../control-api/client.js';
import type { Context } from './context.js';
import { EXIT, problemOf } from './errors.js';
import type { ExitCode } from './errors.js';
import { clock, printJson } from './output.js';

/** What `getRunProgress` answers: counts and times. */
export type RunProgress = Awaited<ReturnType<TavioClient['getRunProgress']>>;

/** Not on a terminal, a line per change, at most this often. */
export const LINE_GAP_MS = 2_000;

/** The exit code of a closed run's outcome. */
export function exitCodeOf(status: RunStatus): ExitCode {
  if (status === 'completed') return EXIT.ok;
  if (status === 'failed') return EXIT.runFailed;
  return EXIT.runStopped;
}

const isClosed = (status: RunStatus) => status !== 'running';

/** Labels of the counts people look for first, in this order; others follow by their names. */
const LABELS: Record<string, string> = {
  pages: 'pages',
  recordsRead: 'records read',
  recordsWritten: 'written',
  recordsSkipped: 'skipped',
  recordsDeactivated: 'deactivated',
  files: 'files',
  bytes: 'bytes',
};
/** Bookkeeping rather than progress. */
const UNSHOWN = new Set(['executions']);

export function countsText(counts: Record<string, number>): string {
  const known = Object.keys(LABELS).filter((name) => name in counts);
  const others = Object.keys(counts).filter((name) => !(name in LABELS) && !UNSHOWN.has(name));
  return [...known, ...others].map((name) => `${LABELS[name] ?? name} ${counts[name]}`).join(', ');
}

/** One line of progress: `running, 0:14 elapsed: pages 12, records read 240, written 240, skipped 0`. */
export function progressLine(progress: RunProgress): string {
  const head = `${progress.status}, ${clock(progress.elapsedMs)} elapsed`;
  if (progress.progress) return `${head}: ${countsText(progress.progress)}`;
  if (progress.waitingFor) return `${head}: waiting for a worker (${progress.waitingFor})`;
  return progress.unavailableReason ? `${head}: ${progress.unavailableReason}` : head;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Calls the API again when it asks to wait (429) or is briefly unavailable (503). */
async function patiently<T>(call: () => Promise<T>): Promise<T> {
  for (;;) {
    try {
      return await call();
    } catch (error) {
      const problem = problemOf(error);
      if (!problem || ![429, 503].includes(problem.status)) throw error;
      const after = (error as { retryAfterSeconds?: number }).retryAfterSeconds ?? 1;
      await sleep(after * 1000);
    }
  }
}

/**
 * Follows a run's progress through the API until it closes or `timeoutMs` passes. On a terminal it
 * redraws one line; otherwise it writes a line per change, at most every LINE_GAP_MS; with
 * `--json`, a JSON line (`type: progress`) per change. Answers the closed run and its final
 * progress, or undefined when the run still runs at the timeout.
 */
export async function watchRun(
  ctx: Context,
  where: { org: string; env: string; runId: string },
  wait: { timeoutMs?: number; intervalMs: number },
): Promise<{ run: Run; progress: RunProgress } | undefined> {
  const client = ctx.client();
  const deadline = Date.now() + (wait.timeoutMs ?? Number.POSITIVE_INFINITY);
  const terminal = !ctx.json && ctx.stdout.isTTY === true;
  let shown = '';
  let shownAt = 0;
  for (;;) {
    const progress = await patiently(() => client.getRunProgress(where.org, where.env, where.runId));
    const closed = isClosed(progress.status);
    const state = JSON.stringify([
      progress.status,
      progress.progress,
      progress.waitingFor,
      progress.unavailableReason,
    ]);
    if (terminal) {
      // A terminal of unknown size (0 columns) is taken as 80 wide.
      const width = Math.max(10, (ctx.stdout.columns || 80) - 1);
      ctx.stdout.write(`\r\x1b[2K${progressLine(progress).slice(0, width)}${closed ? '\n' : ''}`);
    } else if (state !== shown && (closed || Date.now() - shownAt >= LINE_GAP_MS)) {
      if (ctx.json) printJson(ctx, { type: 'progress', ...progress }, true);
      else if (!closed) ctx.stdout.write(`${progressLine(progress)}\n`);
      shown = state;
      shownAt = Date.now();
    }
    if (closed) {
      const run = await patiently(() => client.getRun(where.org, where.env, where.runId));
      return { run, progress };
    }
    if (Date.now() >= deadline) {
      if (terminal) ctx.stdout.write('\n');
      return undefined;
    }
    await sleep(wait.intervalMs);
  }
}

/** Follows a run to its end and reports it; the exit code tells its outcome. */
export async function waitAndReport(
  ctx: Context,
  where: { org: string; env: string; runId: string },
  wait: { timeoutMs?: number; intervalMs: number },
): Promise<void> {
  const outcome = await watchRun(ctx, where, wait);
  if (!outcome) {
    const message = `run ${where.runId} is still running after ${Math.round((wait.timeoutMs ?? 0) / 1000)} s; tavio runs wait ${where.runId} goes on waiting`;
    if (ctx.json) printJson(ctx, { type: 'timeout', runId: where.runId, message }, true);
    else ctx.stderr.write(`${message}\n`);
    return ctx.setExit(EXIT.stillRunning);
  }
  const { run, progress } = outcome;
  if (ctx.json) printJson(ctx, { type: 'run', ...run }, true);
  else {
    const counts = progress.progress ? `: ${countsText(progress.progress)}` : '';
    const failure = run.failure ? `: ${run.failure}` : '';
    const after = run.status === 'completed' ? 'in' : 'after';
    ctx.stdout.write(
      `run ${run.id} ${run.status} ${after} ${clock(progress.elapsedMs)}${counts}${failure}\n`,
    );
    ctx.stdout.write(`${run.webUiUrl}\n`);
  }
  ctx.setExit(exitCodeOf(run.status));
}
