import { continueAsNew, defineQuery, patched, proxyActivities, setHandler } from '@temporalio/workflow';
import type * as activities from '../../activities/types.js';
import type { HrisSyncInput, HrisSyncSummary, SyncTotals } from './types.js';
import { EMPTY_CHECKSUM, xorHex } from '../../common/checksums.js';
import { RETRY } from '../../workflows/retry.js';

const { syncEmployeePage } = proxyActivities<activities.HrisSyncActivities>({
  startToCloseTimeout: '15 seconds',
  // The activity heartbeats while it waits on upstreams: a heartbeat is what delivers a
  // cancellation to it, and a worker that died is noticed after this, not after 15 seconds.
  heartbeatTimeout: '5 seconds',
  retry: RETRY,
});

/** Several pages per activity; it spends at most half of this before it returns its progress. */
const { syncEmployeePages } = proxyActivities<activities.HrisSyncActivities>({
  startToCloseTimeout: '1 minute',
  heartbeatTimeout: '5 seconds',
  retry: RETRY,
});

/** Runs started before several pages per activity replay the way they ran: one activity per page. */
const PAGE_BATCHES = 'several-pages-per-activity';
/**
 * Pages one activity moves at most (it also stops after 30 seconds). Each activity costs a few
 * tens of milliseconds of Temporal round trips: at a few milliseconds per page, 200 pages make
 * that a few percent. A retry resumes after the last page its attempt heartbeated.
 */
const PAGES_PER_ACTIVITY = 200;

export interface SyncProgress extends SyncTotals {
  cursor: string | null;
  executions: number;
}

/** Read by engineers in the Web UI: counts and the cursor, never records. */
export const progressQuery = defineQuery<SyncProgress>('progress');

const EMPTY_TOTALS: SyncTotals = {
  egress: {},
  recordsRead: 0,
  recordsWritten: 0,
  recordsSkipped: 0,
  pages: 0,
  checksum: EMPTY_CHECKSUM,
};

function addCounts(a: Record<string, number>, b: Record<string, number>): Record<string, number> {
  const sum = { ...a };
  for (const [key, count] of Object.entries(b)) sum[key] = (sum[key] ?? 0) + count;
  return sum;
}

/**
 * hris-employee-sync: pages through the source's employees, several pages per activity (extract,
 * map in memory, load each), and completes with counts. Continues as new every `pagesPerExecution` pages
 * so that a history stays small whatever the size of the source.
 */
export async function hrisEmployeeSync(input: HrisSyncInput): Promise<HrisSyncSummary> {
  const startedAt = input.progress?.startedAt ?? Date.now();
  const executions = (input.progress?.executions ?? 0) + 1;
  let cursor = input.progress?.cursor ?? null;
  let totals = input.progress?.totals ?? EMPTY_TOTALS;
  setHandler(progressQuery, () => ({ ...totals, cursor, executions }));

  for (let page = 0; page < input.options.pagesPerExecution;) {
    const request = {
      source: input.source,
      destination: input.destination,
      cursor,
      pageSize: input.options.pageSize,
    };
    const result = patched(PAGE_BATCHES)
      ? await syncEmployeePages({
          ...request,
          maxPages: Math.min(PAGES_PER_ACTIVITY, input.options.pagesPerExecution - page),
        })
      : { ...(await syncEmployeePage(request)), pages: 1 };
    page += result.pages;
    totals = {
      recordsRead: totals.recordsRead + result.read,
      recordsWritten: totals.recordsWritten + result.written,
      recordsSkipped: totals.recordsSkipped + result.skipped,
      pages: totals.pages + result.pages,
      checksum: xorHex(totals.checksum, result.checksum),
      // Results recorded before egress was counted carry none.
      egress: addCounts(totals.egress ?? {}, result.egress ?? {}),
    };
    cursor = result.nextCursor;
    if (cursor === null) {
      return { ...totals, executions, durationMs: Date.now() - startedAt };
    }
  }
  return continueAsNew<typeof hrisEmployeeSync>({
    ...input,
    progress: { cursor, totals, startedAt, executions },
  });
}
