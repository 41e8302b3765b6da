import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { z } from 'zod';
import { DEFAULT_RESPONSE_LIMIT_BYTES } from '../../common/config.js';
import { FailureType } from '../../common/failures.js';
import { EMPTY_CHECKSUM, xorHex } from '../../common/checksums.js';
import type {
  DeactivateMissingInput,
  DeactivateMissingResult,
  SyncPageInput,
  SyncPageResult,
  SyncPagesInput,
  SyncPagesProgress,
  SyncPagesResult,
} from './types.js';
import type { SealedConnection } from '../../common/names.js';
import { readJsonLimited } from '../../activities/bounded-body.js';
import { withActivityEgress } from '../../activities/egress.js';
import type { ConnectionCache } from '../../activities/connection-cache.js';
import { assertSealedHost } from '../../activities/credentials.js';
import type { CredentialOpener } from '../../activities/credentials.js';
import { externalIdOf, mapperFor } from './declared-mapping.js';
import type { SkippedRecord } from './mapping.js';
import { bounded, tombstoneOf } from './listing.js';
import { runLog } from '../../activities/run-log.js';
import type { RunLog } from '../../activities/run-log.js';
import type { GatewayHttp } from '../../activities/http.js';
import {
  checksumOf,
  deactivateEmployees,
  deactivateMissing,
  failureFor,
  upsertEmployees,
} from '../../activities/upsert-destination.js';
import type { Deactivation, UpsertTarget } from '../../activities/upsert-destination.js';

export { MAX_CURSOR_LENGTH } from './listing.js';

// The records are checked one by one as they are mapped; here only that there is a list of them.
const sourcePageSchema = z.object({
  data: z.custom<unknown[]>((value) => Array.isArray(value)),
  next_cursor: z.string().nullable(),
  // When the listing started, by the source's clock: the next incremental run's mark.
  as_of: z.string().nullish(),
});

interface Opened {
  source: SealedConnection;
  destination: SealedConnection;
  allowed: ReadonlySet<string>;
}

/**
 * A skipped record in the run log: its id hashed, the reason and the fields at fault; the issues'
 * messages, which may quote the record's values, only at `records` detail (the log is sealed in
 * the customer's own bucket).
 */
function logSkipped(log: RunLog, skipped: SkippedRecord): void {
  log.warn('record.skipped', {
    recordId: skipped.sourceId === undefined ? null : log.hashId(skipped.sourceId),
    reason: skipped.reason,
    fields: skipped.fields,
    ...(log.detail === 'records' ? { issues: skipped.issues } : {}),
  });
}

export interface HrisSyncDeps {
  http: GatewayHttp;
  credentials: CredentialOpener;
  /** Keeps a workflow execution's opened connections between its pages; without it each page opens them. */
  connections?: ConnectionCache;
  /** The largest source or destination answer read; `DEFAULT_RESPONSE_LIMIT_BYTES` when absent. */
  responseLimitBytes?: number;
}

/** Activities of hris-employee-sync, bound to one environment's gateway and credentials. */
export function createHrisSyncActivities(deps: HrisSyncDeps) {
  const responseLimit = deps.responseLimitBytes ?? DEFAULT_RESPONSE_LIMIT_BYTES;

  /** The workflow execution an attempt belongs to: opened connections are kept for it alone. */
  const executionOf = () => Context.current().info.workflowExecution?.runId ?? '';

  function openOne(connectionId: string): Promise<SealedConnection> {
    const opening = () => deps.credentials.open(connectionId);
    return deps.connections ? deps.connections.open(executionOf(), connectionId, opening) : opening();
  }

  async function open(input: SyncPageInput): Promise<Opened> {
    const [source, destination] = await Promise.all([
      openOne(input.source.id),
      openOne(input.destination.id),
    ]);
    assertSealedHost('source', input.source, source);
    assertSealedHost('destination', input.destination, destination);
    return { source, destination, allowed: new Set([source.host, destination.host]) };
  }

  /** One page from the source; `signal` abandons it (a prefetched page whose attempt failed). */
  async function extract(input: SyncPageInput, opened: Opened, signal?: AbortSignal) {
    const startedAt = performance.now();
    const url = new URL('/v1/employees', input.source.baseUrl);
    url.searchParams.set('limit', String(input.pageSize));
    if (input.cursor !== null) url.searchParams.set('cursor', input.cursor);
    const since = input.since ?? null;
    if (since !== null) url.searchParams.set('updated_since', since);
    const response = await deps.http.fetch(
      url.href,
      {
        headers: { 'x-api-key': opened.source.secrets.apiKey ?? '', accept: 'application/json' },
        signal,
      },
      opened.allowed,
    );
    if (since !== null && (response.status === 400 || response.status === 422)) {
      await response.cancel().catch(() => undefined);
      throw ApplicationFailure.nonRetryable(
        `source ${url.host} answered ${response.status} to updated_since: it refuses the high-water mark of this connection pair; the mark was not moved (a full run lists everything again)`,
        FailureType.SourceMarkRefused,
      );
    }
    if (!response.ok) throw await failureFor('Source', response, url.href);
    const page = sourcePageSchema.safeParse(
      await readJsonLimited(response, responseLimit, `source ${url.host}`),
    );
    if (!page.success) {
      throw ApplicationFailure.nonRetryable(
        `source ${url.host} sent a page of an unexpected shape`,
        FailureType.SourceRequestRejected,
      );
    }
    return {
      data: page.data.data,
      next_cursor: bounded(page.data.next_cursor, url.host, 'next-page cursor'),
      asOf: bounded(page.data.as_of ?? null, url.host, 'listing as_of'),
      startedAt,
    };
  }

  const target = (input: { destination: SyncPageInput['destination'] }, opened: Opened): UpsertTarget => ({
    http: deps.http,
    baseUrl: input.destination.baseUrl,
    token: opened.destination.secrets.token ?? '',
    allowed: opened.allowed,
    responseLimitBytes: responseLimit,
  });

  /** The run a full listing's session belongs to: every execution of one workflow shares it. */
  const sessionOf = () => Context.current().info.workflowExecution?.workflowId ?? '';

  type Extracted = Awaited<ReturnType<typeof extract>>;

  /** One page: extract, map in memory, load. */
  async function movePage(input: SyncPageInput) {
    const opened = await open(input);
    return loadPage(input, opened, await extract(input, opened));
  }

  /**
   * Maps an extracted page in memory and loads it: employees are upserted, terminated ones also
   * deactivated, deleted ones (tombstones, never mapped) only deactivated. The run log gets each
   * skipped record and the page's counts.
   */
  async function loadPage(input: SyncPageInput, opened: Opened, page: Extracted) {
    const log = runLog();
    const mapped: string[] = [];
    const leaving: Deactivation[] = [];
    const seen: string[] = [];
    let skipped = 0;
    // The run's declared mapping, or the fixed one; compiled once per mapping.
    const mapRecord = mapperFor(input.mapping);
    // A tombstone is not mapped: its id is what the mapping's externalId rule gives.
    const idOf = externalIdOf(input.mapping);
    for (const record of page.data) {
      const deleted = tombstoneOf(record, idOf);
      if (deleted !== undefined) {
        if (deleted === null) skipped += 1;
        else leaving.push({ externalId: deleted, reason: 'deleted' });
        continue;
      }
      const checked = mapRecord(record);
      if (checked.employee) {
        mapped.push(JSON.stringify(checked.employee));
        if (checked.employee.employmentStatus === 'terminated')
          leaving.push({ externalId: checked.employee.externalId, reason: 'terminated' });
      } else {
        skipped += 1;
        logSkipped(log, checked.skipped);
        if (checked.skipped.sourceId !== undefined) seen.push(checked.skipped.sourceId);
      }
    }
    const to = target(input, opened);
    const written = await upsertEmployees(
      to,
      mapped,
      input.reconcile ? { id: sessionOf(), seen } : undefined,
    );
    const deactivated = await deactivateEmployees(to, leaving);
    // The run's last page: nothing of its connections stays in memory.
    if (page.next_cursor === null) deps.connections?.forget(executionOf());
    log.info('page.loaded', {
      fetched: page.data.length,
      written,
      skipped,
      deactivated,
      durationMs: Math.round(performance.now() - page.startedAt),
      last: page.next_cursor === null,
    });
    return {
      read: page.data.length,
      written,
      skipped,
      deactivated,
      nextCursor: page.next_cursor,
      checksum: checksumOf(mapped),
      asOf: page.asOf,
    };
  }

  return {
    /**
     * Extracts one page, maps it in memory, loads it; returns counts, the next cursor, and the
     * requests it sent through the gateway, by host. Its requests end with the attempt.
     */
    async syncEmployeePage(input: SyncPageInput): Promise<SyncPageResult> {
      const { result, egress } = await withActivityEgress(() => movePage(input));
      return { ...result, egress };
    },

    /**
     * Moves up to `maxPages` pages in one attempt, stopping early when half of its time is spent,
     * so that Temporal's round trips are paid per batch rather than per page. While a page loads,
     * the next one is extracted. Each page's progress (counts and the next cursor, never records)
     * is its heartbeat once it is loaded: a retry resumes after the last page that was loaded,
     * and extracts again a page it had extracted but not loaded.
     */
    async syncEmployeePages(input: SyncPagesInput): Promise<SyncPagesResult> {
      const ctx = Context.current();
      const deadline = Date.now() + ctx.info.startToCloseTimeoutMs / 2;
      const resumed = ctx.info.heartbeatDetails as SyncPagesProgress | undefined;
      let progress: SyncPagesProgress = resumed ?? {
        pages: 0,
        read: 0,
        written: 0,
        skipped: 0,
        deactivated: 0,
        asOf: null,
        nextCursor: input.cursor,
        checksum: EMPTY_CHECKSUM,
      };
      // A retry of an attempt that had loaded every page it was to load has nothing left to do.
      const done = progress.pages >= input.maxPages || (progress.pages > 0 && progress.nextCursor === null);
      const { egress } = await withActivityEgress(
        async () => {
          if (done) return;
          const opened = await open(input);
          // A page extracted ahead is abandoned when the attempt ends before loading it.
          const ahead = new AbortController();
          const extractFrom = (cursor: string | null) => {
            const extracting = extract({ ...input, cursor }, opened, ahead.signal);
            // Awaited below, unless a failure of the page loading before it ends the attempt first.
            extracting.catch(() => undefined);
            return extracting;
          };
          let next: Promise<Extracted> | undefined = extractFrom(progress.nextCursor);
          try {
            while (next) {
              const extracted = await next;
              next = undefined;
              // The next page is extracted while this one loads, when this attempt will load it.
              if (
                extracted.next_cursor !== null &&
                progress.pages + 1 < input.maxPages &&
                Date.now() < deadline
              )
                next = extractFrom(extracted.next_cursor);
              const page = await loadPage(input, opened, extracted);
              progress = {
                pages: progress.pages + 1,
                read: progress.read + page.read,
                written: progress.written + page.written,
                skipped: progress.skipped + page.skipped,
                deactivated: (progress.deactivated ?? 0) + page.deactivated,
                asOf: progress.asOf ?? page.asOf,
                nextCursor: page.nextCursor,
                checksum: xorHex(progress.checksum, page.checksum),
              };
              ctx.heartbeat(progress);
            }
          } finally {
            ahead.abort();
          }
        },
        () => progress,
      );
      return { ...progress, egress };
    },

    /**
     * Ends a full listing: the destination deactivates every employee that the run's session (its
     * upserts and the records it skipped) did not name. Called once the listing has ended.
     */
    async deactivateMissing(input: DeactivateMissingInput): Promise<DeactivateMissingResult> {
      const { result, egress } = await withActivityEgress(async () => {
        try {
          const destination = await openOne(input.destination.id);
          assertSealedHost('destination', input.destination, destination);
          const opened = { source: destination, destination, allowed: new Set([destination.host]) };
          const deactivated = await deactivateMissing(target(input, opened), sessionOf());
          runLog().info('listing.reconciled', { deactivated });
          return deactivated;
        } finally {
          deps.connections?.forget(executionOf());
        }
      });
      return { deactivated: result, egress };
    },
  };
}
