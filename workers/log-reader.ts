import { KMS } from '@aws-sdk/client-kms';
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import type { Logger } from 'pino';
import type { RegionCode } from '../common/regions.js';
import {
  chunkFlushedAt,
  decodeChunk,
  encodeCursor,
  isLogDay,
  logDay,
  logDaysBetween,
  matchesFilter,
  runLogFolder,
} from '../common/run-log.js';
import type { RunLogQuery, RunLogRecord } from '../common/run-log.js';
import { createSealedStore, objectKeyOf, SealedObjectError } from '../common/sealed-objects.js';
import type { DataplaneCredentials } from '../common/worker-secrets.js';

/**
 * Reading a run's log in the region host: an environment's chunks, listed and opened with its own
 * short-lived credentials, one at a time, and turned into a page of NDJSON.
 */

/** An environment assigned to this host, as far as reading its logs goes. */
export interface LogAssignment {
  id: string;
  organization: string;
  environment: string;
  bucket: string;
  keyArn: string;
  awsRegion: string;
  dataplaneRoleArn: string;
}

/** A chunk is filed at most a few seconds after its records; this much leeway keeps clock steps harmless. */
const FILING_LEEWAY_MS = 10 * 60_000;
/** A sealed chunk larger than this is not one the workers wrote. */
const MAX_SEALED_CHUNK_BYTES = 16 * 1024 * 1024;
/**
 * An environment's credentials for reading its logs live 15 minutes (the least STS gives): an
 * environment whose log was read holds none on this host for longer than that. Renewed a minute
 * before they expire.
 */
const RENEW_BEFORE_MS = 60_000;
const CREDENTIAL_SECONDS = 900;

/** What opening an environment's chunks needs. */
export interface ReaderOptions {
  region: RegionCode;
  /** The region's S3/KMS endpoint override (a local S3/KMS service); absent on AWS. */
  awsEndpoint?: string;
  /** Short-lived credentials of an environment's data-plane role. */
  issueCredentials(roleArn: string, seconds: number): Promise<DataplaneCredentials>;
  log: Logger;
}

/** Where chunks come from: the keys under a prefix in order, and a chunk's records. */
export interface ChunkSource {
  list(prefix: string): AsyncIterable<string>;
  open(key: string): Promise<RunLogRecord[]>;
}

/**
 * A chunk flushed this long ago is settled: any chunk with an earlier key is visible by then (a
 * write is given up after 20 seconds).
 */
const SETTLED_MS = 30_000;

/**
 * One page of a run's log as NDJSON, a piece per chunk: the records of `query`, chunks in key
 * order and lines in order, from the cursor on. When more records match than the limit, the last
 * line is `{"nextCursor": ...}`, which points at the first record not sent. Otherwise the last line
 * is `{"resumeCursor": ...}`: where a later read of a still-running log goes on from, the first
 * chunk that is not yet settled (its records come again there; a reader that follows the log
 * skips what it already has).
 */
export async function* readRunLog(
  source: ChunkSource,
  run: { workflowId: string; from: string; to: string },
  query: RunLogQuery,
): AsyncGenerator<string> {
  const { filter, limit, cursor } = query;
  // The days to list, in milliseconds: never outside the token's days, whatever the query says.
  const dayStart = (day: string) => Date.parse(`${day}T00:00:00Z`);
  let first = dayStart(run.from);
  if (cursor) first = Math.max(first, dayStart(cursor.key.split('/')[1]!));
  if (filter.since !== undefined) first = Math.max(first, filter.since - FILING_LEEWAY_MS);
  let last = dayStart(run.to) + 86_400_000 - 1;
  if (filter.until !== undefined) last = Math.min(last, filter.until + FILING_LEEWAY_MS);
  if (last < first) return;
  let sent = 0;
  const settledBefore = Date.now() - SETTLED_MS;
  let resume = cursor;
  let settled = true;
  days: for (const day of logDaysBetween(logDay(first), logDay(last))) {
    const prefix = `${objectKeyOf('logs', runLogFolder(day, run.workflowId))}/`;
    for await (const key of source.list(prefix)) {
      if (cursor && key < cursor.key) continue;
      const flushedAt = chunkFlushedAt(key);
      if (flushedAt !== undefined) {
        if (filter.since !== undefined && flushedAt < filter.since - FILING_LEEWAY_MS) continue;
        // Keys sort by flush time, and later days come later: nothing further can match.
        if (filter.until !== undefined && flushedAt > filter.until + FILING_LEEWAY_MS) break days;
      }
      if (settled && (flushedAt === undefined || flushedAt >= settledBefore)) {
        settled = false;
        resume = { key, line: cursor && key === cursor.key ? cursor.line : 0 };
      }
      const records = await source.open(key);
      let piece = '';
      for (let line = cursor && key === cursor.key ? cursor.line : 0; line < records.length; line++) {
        const record = records[line]!;
        if (!matchesFilter(record, filter)) continue;
        if (sent === limit) {
          yield `${piece}${JSON.stringify({ nextCursor: encodeCursor({ key, line }) })}\n`;
          return;
        }
        piece += `${JSON.stringify(record)}\n`;
        sent++;
      }
      if (settled) resume = { key, line: records.length };
      if (piece !== '') yield piece;
    }
  }
  if (resume) yield `${JSON.stringify({ resumeCursor: encodeCursor(resume) })}\n`;
}

/** Whether a cursor points into this run's log. */
export function cursorOfRun(key: string, workflowId: string): boolean {
  const [purpose, day, folder, file] = key.split('/');
  return (
    purpose === 'logs' &&
    isLogDay(day ?? '') &&
    `${day}/${folder}` === runLogFolder(day!, workflowId) &&
    file !== undefined
  );
}

export const madeFor = (a: LogAssignment) =>
  [a.organization, a.environment, a.bucket, a.keyArn, a.awsRegion, a.dataplaneRoleArn].join('\n');

export interface EnvironmentReader {
  /** What the clients were made for: a changed assignment gets new ones. */
  made: string;
  source(workflowId: string): ChunkSource;
  destroy(): void;
}

/**
 * S3 and KMS clients of one environment, straight to the region's endpoint (not through the
 * gateway: this is the host, not a worker), with the environment's own credentials, renewed
 * five minutes before they expire.
 */
export function environmentReader(assignment: LogAssignment, options: ReaderOptions): EnvironmentReader {
  let cached: { value: DataplaneCredentials; renewAt: number } | undefined;
  let pending: Promise<DataplaneCredentials> | undefined;
  const current = async () => {
    if (cached && Date.now() < cached.renewAt) return cached.value;
    pending ??= options
      .issueCredentials(assignment.dataplaneRoleArn, CREDENTIAL_SECONDS)
      .then((value) => {
        cached = { value, renewAt: Date.parse(value.expiration) - RENEW_BEFORE_MS };
        return value;
      })
      .finally(() => {
        pending = undefined;
      });
    return pending;
  };
  const common = {
    region: assignment.awsRegion,
    endpoint: options.awsEndpoint,
    credentials: async () => {
      const value = await current();
      return { ...value, expiration: new Date(value.expiration) };
    },
    requestHandler: new NodeHttpHandler({ connectionTimeout: 5_000, requestTimeout: 30_000 }),
  };
  const s3 = new S3Client({ ...common, forcePathStyle: options.awsEndpoint !== undefined });
  const kms = new KMS(common);
  const store = createSealedStore({
    s3,
    kms,
    bucket: assignment.bucket,
    scope: {
      organization: assignment.organization,
      environment: assignment.environment,
      region: options.region,
      keyArn: assignment.keyArn,
    },
  });
  return {
    made: madeFor(assignment),
    source: (workflowId) => ({
      async *list(prefix) {
        let token: string | undefined;
        do {
          const page = await s3.send(
            new ListObjectsV2Command({ Bucket: assignment.bucket, Prefix: prefix, ContinuationToken: token }),
          );
          for (const object of page.Contents ?? []) if (object.Key) yield object.Key;
          token = page.IsTruncated ? page.NextContinuationToken : undefined;
        } while (token);
      },
      async open(key) {
        const object = await s3.send(new GetObjectCommand({ Bucket: assignment.bucket, Key: key }));
        if ((object.ContentLength ?? 0) > MAX_SEALED_CHUNK_BYTES) {
          object.Body?.transformToWebStream()
            .cancel()
            .catch(() => undefined);
          options.log.warn({ key, bytes: object.ContentLength }, 'run log: chunk too large, left out');
          return [];
        }
        const sealed = await object.Body!.transformToByteArray();
        try {
          return await decodeChunk(await store.unseal(key, sealed, { run: workflowId }));
        } catch (error) {
          // Sealed for another place (another run's chunk moved here): never opened, never sent.
          if (!(error instanceof SealedObjectError)) throw error;
          options.log.warn({ key }, 'run log: chunk sealed for another place, left out');
          return [];
        }
      },
    }),
    destroy() {
      s3.destroy();
      kms.destroy();
    },
  };
}
