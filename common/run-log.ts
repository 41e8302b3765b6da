import { z } from 'zod';

/**
 * Run logs: what each activity of a run did, kept in the environment's own bucket under `logs/`,
 * sealed under its key. One object per chunk: the gzip of NDJSON records, filed as
 * `logs/<day of the flush>/<workflow id>/<flush ms>-<activity id>-a<attempt>-<seq>.ndjson.gz`.
 * The environment worker writes them; the region host reads them for a token holder. What
 * workflow code needs (the detail level and how it travels) is in `log-detail.ts`.
 */

/** The audience of the tokens the control API issues for reading one run's log. */
export const RUN_LOG_AUDIENCE = 'tavio-run-logs';

export { LOG_DETAIL_HEADER, LOG_DETAIL_MEMO, LOG_DETAILS, logDetailOf } from './log-detail.js';
export type { LogDetail } from './log-detail.js';

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
const LEVEL_RANK: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

export type LogFields = Record<string, unknown>;

/** One line of a chunk. */
export interface RunLogRecord {
  time: string;
  /** The workflow id: the run, across its executions. */
  run: string;
  /** The workflow execution's run id. */
  execution: string;
  activity: string;
  activityId: string;
  attempt: number;
  level: LogLevel;
  event: string;
  fields: LogFields;
}

const runLogRecordSchema = z.object({
  time: z.string(),
  run: z.string(),
  execution: z.string(),
  activity: z.string(),
  activityId: z.string(),
  attempt: z.number().int(),
  level: z.enum(LOG_LEVELS),
  event: z.string(),
  fields: z.record(z.string(), z.unknown()),
});

/** A chunk is written once it holds this many records... */
export const CHUNK_MAX_RECORDS = 500;
/** ...or this many bytes of NDJSON... */
export const CHUNK_MAX_BYTES = 256 * 1024;
/** ...and at this interval while its activity runs. */
export const FLUSH_INTERVAL_MS = 5_000;
/** A record larger than this keeps its envelope and loses its fields. */
export const MAX_RECORD_BYTES = 64 * 1024;
/** What a reader opens of one chunk at most, decompressed. */
export const MAX_CHUNK_PLAINTEXT_BYTES = 8 * 1024 * 1024;

const DAY = /^\d{4}-\d{2}-\d{2}$/;
const DAY_MS = 24 * 60 * 60 * 1000;

/** The UTC day (YYYY-MM-DD) of an epoch time in milliseconds. */
export function logDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** Whether `value` is a real UTC day written YYYY-MM-DD. */
export function isLogDay(value: string): boolean {
  const ms = Date.parse(`${value}T00:00:00Z`);
  return DAY.test(value) && !Number.isNaN(ms) && logDay(ms) === value;
}

/** The days from `from` to `to`, both included, in order. */
export function logDaysBetween(from: string, to: string): string[] {
  const days: string[] = [];
  for (let ms = Date.parse(from); ms <= Date.parse(to); ms += DAY_MS) days.push(logDay(ms));
  return days;
}

/** The folder, under `logs/`, of one run's chunks flushed on `day`. */
export function runLogFolder(day: string, workflowId: string): string {
  return `${day}/${safeSegment(workflowId, 128)}`;
}

/**
 * An id as a path segment: characters outside `[A-Za-z0-9._-]` become `_` (a scheduled workflow's
 * id holds its time, with colons). Two ids that differ only there share a folder; a chunk is still
 * opened only for the run it was sealed for.
 */
export function safeSegment(id: string, max: number): string {
  const safe = id.replace(/[^A-Za-z0-9._-]/g, '_');
  // A segment starts with a letter or a digit.
  return (/^[A-Za-z0-9]/.test(safe) ? safe : `x${safe}`).slice(0, max);
}

/** Where one chunk is filed, under `logs/` (pass it to `objectKeyOf('logs', name)`). */
export function chunkName(chunk: {
  flushedAt: number;
  workflowId: string;
  activityId: string;
  attempt: number;
  seq: number;
}): string {
  const file = [
    String(chunk.flushedAt).padStart(13, '0'),
    safeSegment(chunk.activityId, 64),
    `a${chunk.attempt}`,
    String(chunk.seq).padStart(4, '0'),
  ].join('-');
  return `${runLogFolder(logDay(chunk.flushedAt), chunk.workflowId)}/${file}.ndjson.gz`;
}

/** The flush time a chunk's key was filed under, if it is a chunk's key. */
export function chunkFlushedAt(key: string): number | undefined {
  const ms = /\/(\d{13})-[^/]*\.ndjson\.gz$/.exec(key)?.[1];
  return ms === undefined ? undefined : Number(ms);
}

/** A record as its NDJSON line (without the line end); one too large or not JSON keeps its envelope only. */
export function recordLine(record: RunLogRecord): string {
  let line: string | undefined;
  try {
    line = JSON.stringify(record);
  } catch {
    line = undefined;
  }
  if (line === undefined) return JSON.stringify({ ...record, fields: { unserializable: true } });
  // A UTF-16 unit is at most three UTF-8 bytes: measure exactly only when it may matter.
  const bytes = line.length * 3 <= MAX_RECORD_BYTES ? line.length : new TextEncoder().encode(line).length;
  return bytes <= MAX_RECORD_BYTES ? line : JSON.stringify({ ...record, fields: { truncated: true, bytes } });
}

/** Runs `bytes` through a (de)compression stream, refusing more than `maxBytes` out of it. */
async function transform(
  bytes: Uint8Array,
  stream: CompressionStream | DecompressionStream,
  maxBytes: number,
): Promise<Uint8Array> {
  const source = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(bytes);
      controller.close();
    },
  });
  const reader = source.pipeThrough(stream).getReader();
  const parts: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel();
      throw new Error(`a run log chunk holds more than ${maxBytes} bytes`);
    }
    parts.push(value);
  }
  const out = new Uint8Array(total);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.byteLength;
  }
  return out;
}

/** A chunk's plaintext: the gzip of its NDJSON lines, each ended by a line feed. */
export function encodeChunk(lines: readonly string[]): Promise<Uint8Array> {
  const ndjson = new TextEncoder().encode(lines.map((line) => `${line}\n`).join(''));
  return transform(ndjson, new CompressionStream('gzip'), Number.MAX_SAFE_INTEGER);
}

/** A chunk's records in line order; a line that is not a record is left out (the same way each time). */
export async function decodeChunk(
  plaintext: Uint8Array,
  maxBytes = MAX_CHUNK_PLAINTEXT_BYTES,
): Promise<RunLogRecord[]> {
  const text = new TextDecoder().decode(
    await transform(plaintext, new DecompressionStream('gzip'), maxBytes),
  );
  const records: RunLogRecord[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      continue;
    }
    const parsed = runLogRecordSchema.safeParse(value);
    if (parsed.success) records.push(parsed.data);
  }
  return records;
}

/** Which records a reader wants: a minimum level, some events, a time window (since included, until not). */
export interface RunLogFilter {
  level: LogLevel;
  events?: ReadonlySet<string>;
  since?: number;
  until?: number;
}

export function matchesFilter(record: RunLogRecord, filter: RunLogFilter): boolean {
  if (LEVEL_RANK[record.level] < LEVEL_RANK[filter.level]) return false;
  if (filter.events && !filter.events.has(record.event)) return false;
  if (filter.since === undefined && filter.until === undefined) return true;
  const time = Date.parse(record.time);
  if (Number.isNaN(time)) return false;
  return (
    (filter.since === undefined || time >= filter.since) &&
    (filter.until === undefined || time < filter.until)
  );
}

/** Where the next page starts: the line `line` (0-based) of the chunk at `key`. */
export interface RunLogCursor {
  key: string;
  line: number;
}

const cursorSchema = z.object({
  v: z.literal(1),
  key: z.string().startsWith('logs/').max(1024),
  line: z.number().int().min(0),
});

/** An opaque cursor: base64url of a small JSON document. */
export function encodeCursor(cursor: RunLogCursor): string {
  return Buffer.from(JSON.stringify({ v: 1, key: cursor.key, line: cursor.line })).toString('base64url');
}

/** The position a cursor names, or undefined when it is not one of ours. */
export function decodeCursor(value: string): RunLogCursor | undefined {
  if (!/^[A-Za-z0-9_-]{1,2048}$/.test(value)) return undefined;
  try {
    const parsed = cursorSchema.safeParse(JSON.parse(Buffer.from(value, 'base64url').toString('utf8')));
    return parsed.success ? { key: parsed.data.key, line: parsed.data.line } : undefined;
  } catch {
    return undefined;
  }
}

/** A page of a run's log: which records, how many at most, and where to start. */
export interface RunLogQuery {
  filter: RunLogFilter;
  limit: number;
  cursor?: RunLogCursor;
}

export const DEFAULT_LOG_LIMIT = 1000;
export const MAX_LOG_LIMIT = 10_000;
const MAX_EVENTS = 50;

const time = (name: string) =>
  z.iso
    .datetime({ offset: true, error: `${name} must be an ISO 8601 time such as 2026-11-29T08:00:00Z` })
    .transform((value) => Date.parse(value));

const runLogQuerySchema = z.strictObject({
  level: z.enum(LOG_LEVELS, { error: `level must be one of ${LOG_LEVELS.join(', ')}` }).default('debug'),
  event: z
    .string({ error: 'event must be given once, as comma-separated event names' })
    .transform((value) => value.split(',').filter((name) => name !== ''))
    .refine((names) => names.length > 0 && names.length <= MAX_EVENTS, {
      error: `event must name between 1 and ${MAX_EVENTS} events`,
    })
    .refine((names) => names.every((name) => name.length <= 128), {
      error: 'an event name is at most 128 characters',
    })
    .optional(),
  since: time('since').optional(),
  until: time('until').optional(),
  limit: z
    .string({ error: 'limit must be given once' })
    .regex(/^\d{1,6}$/, `limit must be a whole number from 1 to ${MAX_LOG_LIMIT}`)
    .transform(Number)
    .refine((n) => n >= 1 && n <= MAX_LOG_LIMIT, { error: `limit must be from 1 to ${MAX_LOG_LIMIT}` })
    .default(DEFAULT_LOG_LIMIT),
  cursor: z.string({ error: 'cursor must be given once' }).optional(),
});

export type RunLogQueryResult =
  { ok: true; query: RunLogQuery } | { ok: false; parameter: string; detail: string };

/** A reader's query string, checked; a refusal names the parameter. */
export function parseRunLogQuery(input: Record<string, unknown>): RunLogQueryResult {
  const parsed = runLogQuerySchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    if (issue.code === 'unrecognized_keys') {
      const name = issue.keys[0] ?? '';
      return { ok: false, parameter: name, detail: `unknown query parameter ${JSON.stringify(name)}` };
    }
    return { ok: false, parameter: String(issue.path[0] ?? ''), detail: issue.message };
  }
  const { level, event, since, until, limit, cursor } = parsed.data;
  if (since !== undefined && until !== undefined && until <= since) {
    return { ok: false, parameter: 'until', detail: 'until must be later than since' };
  }
  let position: RunLogCursor | undefined;
  if (cursor !== undefined) {
    position = decodeCursor(cursor);
    if (!position) return { ok: false, parameter: 'cursor', detail: 'cursor is not one this endpoint gave' };
  }
  return {
    ok: true,
    query: {
      filter: { level, ...(event ? { events: new Set(event) } : {}), since, until },
      limit,
      ...(position ? { cursor: position } : {}),
    },
  };
}
