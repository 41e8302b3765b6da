import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { z } from 'zod';
import { DEFAULT_RESPONSE_LIMIT_BYTES } from '../../common/config.js';
import { FailureType } from '../../common/failures.js';
import { EMPTY_CHECKSUM, xorHex } from '../../common/checksums.js';
import type {
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
import { mapEmployeeChecked } from './mapping.js';
import type { SkippedRecord } from './mapping.js';
import { runLog } from '../../activities/run-log.js';
import type { RunLog } from '../../activities/run-log.js';
import type { GatewayHttp } from '../../activities/http.js';
import { checksumOf, failureFor, upsertEmployees } from '../../activities/upsert-destination.js';

// The records are checked one by one as they are mapped; here only that there is a list of them.
const sourcePageSchema = z.object({
  data: z.custom<unknown[]>((value) => Array.isArray(value)),
  next_cursor: z.string().nullable(),
});

interface Opened {
  source: SealedConnection;
  destination: SealedConnection;
  allowed: ReadonlySet<string>;
}

/** Cursors are opaque tokens of a few dozen characters; a longer one is a page of data in disguise. */
export const MAX_CURSOR_LENGTH = 512;
const PRINTABLE_ASCII = /^[\x20-\x7e]+$/;

/**
 * A cursor enters the run's history (activity result, workflow state) and the next request's URL
 * (gateway logs), so only a short, printable-ASCII one is accepted. The failure describes it
 * without quoting it.
 */
function boundedCursor(cursor: string | null, host: string): string | null {
  if (cursor === null) return null;
  const problem =
    cursor.length > MAX_CURSOR_LENGTH
      ? `of ${cursor.length} characters, over the limit of ${MAX_CURSOR_LENGTH}`
      : !PRINTABLE_ASCII.test(cursor)
        ? 'that is empty or not printable ASCII'
        : undefined;
  if (problem === undefined) return cursor;
  throw ApplicationFailure.nonRetryable(
    `source ${host} sent a next-page cursor ${problem}`,
    FailureType.UpstreamValueRefused,
  );
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
    const response = await deps.http.fetch(
      url.href,
      {
        headers: { 'x-api-key': opened.source.secrets.apiKey ?? '', accept: 'application/json' },
        signal,
      },
      opened.allowed,
    );
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
    return { data: page.data.data, next_cursor: boundedCursor(page.data.next_cursor, url.host), startedAt };
  }

  const load = (input: SyncPageInput, opened: Opened, records: string[]) =>
    upsertEmployees(
      {
        http: deps.http,
        baseUrl: input.destination.baseUrl,
        token: opened.destination.secrets.token ?? '',
        allowed: opened.allowed,
        responseLimitBytes: responseLimit,
      },
      records,
    );

  type Extracted = Awaited<ReturnType<typeof extract>>;

  /** One page: extract, map in memory, load. */
  async function movePage(input: SyncPageInput) {
    const opened = await open(input);
    return loadPage(input, opened, await extract(input, opened));
  }

  /** Maps an extracted page in memory and loads it; the run log gets each skipped record and the page's counts. */
  async function loadPage(input: SyncPageInput, opened: Opened, page: Extracted) {
    const log = runLog();
    const mapped: string[] = [];
    for (const record of page.data) {
      const checked = mapEmployeeChecked(record);
      if (checked.employee) mapped.push(JSON.stringify(checked.employee));
      else logSkipped(log, checked.skipped);
    }
    const written = await load(input, opened, mapped);
    // The run's last page: nothing of its connections stays in memory.
    if (page.next_cursor === null) deps.connections?.forget(executionOf());
    log.info('page.loaded', {
      fetched: page.data.length,
      written,
      skipped: page.data.length - mapped.length,
      durationMs: Math.round(performance.now() - page.startedAt),
      last: page.next_cursor === null,
    });
    return {
      read: page.data.length,
      written,
      skipped: page.data.length - mapped.length,
      nextCursor: page.next_cursor,
      checksum: checksumOf(mapped),
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
  };
}
