import {
  ApplicationFailure,
  continueAsNew,
  defineQuery,
  patched,
  proxyActivities,
  setHandler,
} from '@temporalio/workflow';
import type * as activities from '../../activities/types.js';
import type { HrisSyncInput, HrisSyncSummary, HrisSyncTotals } from './types.js';
import { EMPTY_CHECKSUM, xorHex } from '../../common/checksums.js';
import { FailureType } from '../../common/failures.js';
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

/** Ends a full listing (deactivates what it did not see); reads and saves high-water marks. */
const { deactivateMissing, readSyncMark, saveSyncMark } = proxyActivities<
  activities.HrisSyncActivities & activities.SyncMarkActivities
>({
  startToCloseTimeout: '30 seconds',
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
/**
 * Runs started before modes replay the way they ran: no high-water mark read or saved, no full
 * listing reconciled at its end.
 */
const SYNC_MARKS = 'sync-marks';

export interface SyncProgress extends HrisSyncTotals {
  cursor: string | null;
  executions: number;
}

/** Read by engineers in the Web UI: counts and the cursor, never records. */
export const progressQuery = defineQuery<SyncProgress>('progress');

const EMPTY_TOTALS: HrisSyncTotals = {
  egress: {},
  recordsRead: 0,
  recordsWritten: 0,
  recordsSkipped: 0,
  recordsDeactivated: 0,
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
 *
 * An incremental run lists what changed since the connection pair's high-water mark; a full run
 * (or an incremental one without a mark yet) lists everything and, once the listing ends, has the
 * destination deactivate whoever it did not see. The listing's `as_of` becomes the mark, saved as
 * the run's last step with the run's mapping version: a run that fails or is canceled never moves
 * it, and an incremental run under another mapping version than the mark's lists everything. A
 * full listing that read nobody fails (`EmptyListingRefused`) rather than deactivate everyone.
 */
export async function hrisEmployeeSync(input: HrisSyncInput): Promise<HrisSyncSummary> {
  const marks = patched(SYNC_MARKS);
  const mode = input.options.mode ?? 'full';
  const startedAt = input.progress?.startedAt ?? Date.now();
  const executions = (input.progress?.executions ?? 0) + 1;
  let cursor = input.progress?.cursor ?? null;
  let totals: HrisSyncTotals = { ...EMPTY_TOTALS, ...input.progress?.totals };
  setHandler(progressQuery, () => ({ ...totals, cursor, executions }));

  // The mark is read once, when the listing starts; continued executions carry it.
  const mappingVersion = input.mapping?.version ?? null;
  let since = input.progress ? (input.progress.since ?? null) : null;
  if (!input.progress && marks && mode === 'incremental') {
    const saved = await readSyncMark({ source: input.source, destination: input.destination });
    // A mark saved under another mapping version: records unchanged since were mapped by the other
    // version, so everything is listed (and reconciled) again. Marks saved before versions were
    // kept have none, as runs without a declared mapping.
    if ((saved.mappingVersion ?? null) === mappingVersion) since = saved.mark;
  }
  const reconcile = input.progress
    ? (input.progress.reconcile ?? false)
    : marks && (mode === 'full' || since === null);
  let mark = input.progress?.mark ?? null;

  for (let page = 0; page < input.options.pagesPerExecution;) {
    const request = {
      source: input.source,
      destination: input.destination,
      cursor,
      pageSize: input.options.pageSize,
      mapping: input.mapping,
      since,
      reconcile,
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
      // Results recorded before deactivation carry none.
      recordsDeactivated: totals.recordsDeactivated + (result.deactivated ?? 0),
      pages: totals.pages + result.pages,
      checksum: xorHex(totals.checksum, result.checksum),
      // Results recorded before egress was counted carry none.
      egress: addCounts(totals.egress ?? {}, result.egress ?? {}),
    };
    // Every page of one listing answers the same `as_of`.
    mark ??= result.asOf ?? null;
    cursor = result.nextCursor;
    if (cursor === null) {
      if (reconcile && totals.recordsRead === 0) {
        // A source that listed nobody is far more likely wrong (a transient empty answer, a key of
        // the wrong scope) than empty: reconciling would deactivate every employee.
        throw ApplicationFailure.nonRetryable(
          'the source listed no employees in a full listing: nothing was deactivated and the high-water mark was not moved',
          FailureType.EmptyListingRefused,
        );
      }
      if (reconcile) {
        const ended = await deactivateMissing({ destination: input.destination });
        totals = {
          ...totals,
          recordsDeactivated: totals.recordsDeactivated + ended.deactivated,
          egress: addCounts(totals.egress ?? {}, ended.egress),
        };
      }
      if (marks && mark !== null) {
        await saveSyncMark({
          source: input.source,
          destination: input.destination,
          mark,
          mappingVersion,
          runStartedAt: new Date(startedAt).toISOString(),
        });
      }
      return { ...totals, mode, executions, durationMs: Date.now() - startedAt };
    }
  }
  return continueAsNew<typeof hrisEmployeeSync>({
    ...input,
    progress: { cursor, totals, startedAt, executions, since, mark, reconcile },
  });
}
