import { continueAsNew, defineQuery, proxyActivities, setHandler } from '@temporalio/workflow';
import type * as activities from '../activities/types.js';
import type { HrisSyncInput, HrisSyncSummary, SyncTotals } from '../common/hris-sync-types.js';
import { FailureType } from '../common/failures.js';

const { syncEmployeePage } = proxyActivities<activities.HrisSyncActivities>({
  startToCloseTimeout: '15 seconds',
  // The activity heartbeats while it waits on upstreams: a heartbeat is what delivers a
  // cancellation to it, and a worker that died is noticed after this, not after 15 seconds.
  heartbeatTimeout: '5 seconds',
  retry: {
    initialInterval: '1 second',
    backoffCoefficient: 2,
    maximumInterval: '30 seconds',
    nonRetryableErrorTypes: Object.values(FailureType),
  },
});

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
  checksum: '0'.repeat(64),
};

/** XOR of two hex digests of equal length: combines page checksums in any order. */
function xorHex(a: string, b: string): string {
  let out = '';
  for (let i = 0; i < a.length; i += 8) {
    const word = (parseInt(a.slice(i, i + 8), 16) ^ parseInt(b.slice(i, i + 8), 16)) >>> 0;
    out += word.toString(16).padStart(8, '0');
  }
  return out;
}

function addCounts(a: Record<string, number>, b: Record<string, number>): Record<string, number> {
  const sum = { ...a };
  for (const [key, count] of Object.entries(b)) sum[key] = (sum[key] ?? 0) + count;
  return sum;
}

/**
 * hris-employee-sync: pages through the source's employees, one activity per page (extract, map
 * in memory, load), and completes with counts. Continues as new every `pagesPerExecution` pages
 * so that a history stays small whatever the size of the source.
 */
export async function hrisEmployeeSync(input: HrisSyncInput): Promise<HrisSyncSummary> {
  const startedAt = input.progress?.startedAt ?? Date.now();
  const executions = (input.progress?.executions ?? 0) + 1;
  let cursor = input.progress?.cursor ?? null;
  let totals = input.progress?.totals ?? EMPTY_TOTALS;
  setHandler(progressQuery, () => ({ ...totals, cursor, executions }));

  for (let page = 0; page < input.options.pagesPerExecution; page++) {
    const result = await syncEmployeePage({
      source: input.source,
      destination: input.destination,
      cursor,
      pageSize: input.options.pageSize,
    });
    totals = {
      recordsRead: totals.recordsRead + result.read,
      recordsWritten: totals.recordsWritten + result.written,
      recordsSkipped: totals.recordsSkipped + result.skipped,
      pages: totals.pages + 1,
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
