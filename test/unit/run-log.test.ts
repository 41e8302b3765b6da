import { createHash } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { MockActivityEnvironment } from '@temporalio/testing';
import { ApplicationFailure, defaultPayloadConverter } from '@temporalio/common';
import type { ActivityInterceptorsFactory } from '@temporalio/worker';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { createRunLog, hashRecordId, runLog } from '../../activities/run-log.js';
import {
  chunkFlushedAt,
  chunkName,
  logDay,
  runLogFolder,
  decodeChunk,
  decodeCursor,
  encodeChunk,
  encodeCursor,
  LOG_DETAIL_HEADER,
  logDetailOf,
  matchesFilter,
  MAX_RECORD_BYTES,
  parseRunLogQuery,
  recordLine,
} from '../../common/run-log.js';
import type { LogLevel, RunLogFilter, RunLogQuery, RunLogRecord } from '../../common/run-log.js';
import { objectKeyOf } from '../../common/sealed-objects.js';
import { generateEmployees } from '../../fixtures/employees.js';
import { mapEmployee, mapEmployeeChecked } from '../../integrations/hris-employee-sync/mapping.js';
import type { ObjectPurpose, SealedStore } from '../../common/sealed-objects.js';
import { cursorOfRun, readRunLog } from '../../workers/log-reader.js';
import { createLogServer } from '../../workers/log-server.js';
import type { ChunkSource, LogAssignment } from '../../workers/log-reader.js';
import { failureEntry, logDetailFromHeaders, runLogInterceptor } from '../../workers/run-log-interceptor.js';

const WORKFLOW = 'hris-employee-sync-6b1f0c52-6f4e-4a4e-9d55-2f3f9a3c1d10';
const FLUSHED = Date.UTC(2026, 10, 29, 23, 59, 59, 987);

function record(overrides: Partial<RunLogRecord> = {}): RunLogRecord {
  return {
    time: '2026-11-29T08:00:00.000Z',
    run: WORKFLOW,
    execution: 'a1b2c3',
    activity: 'syncEmployeePages',
    activityId: '1',
    attempt: 1,
    level: 'info',
    event: 'page.loaded',
    fields: { fetched: 100, written: 98, skipped: 2 },
    ...overrides,
  };
}

describe('run log chunk layout', () => {
  it('files a chunk under the UTC day of its flush, its run, and a sortable name', () => {
    const name = chunkName({
      flushedAt: FLUSHED,
      workflowId: WORKFLOW,
      activityId: '12',
      attempt: 3,
      seq: 7,
    });
    expect(name).toBe(`2026-11-29/${WORKFLOW}/${FLUSHED}-12-a3-0007.ndjson.gz`);
    expect(objectKeyOf('logs', name)).toBe(`logs/${name}`);
    // A millisecond later is the next UTC day.
    expect(
      chunkName({ flushedAt: FLUSHED + 13, workflowId: WORKFLOW, activityId: '1', attempt: 1, seq: 1 }),
    ).toMatch(/^2026-11-30\//);
    expect(chunkFlushedAt(`logs/${name}`)).toBe(FLUSHED);
    expect(chunkFlushedAt('logs/2026-11-29/run/notes.txt')).toBeUndefined();
  });

  it('pads the flush time to 13 digits and the sequence to 4', () => {
    const name = chunkName({ flushedAt: 5, workflowId: 'w', activityId: 'x', attempt: 1, seq: 1 });
    expect(name).toBe('1970-01-01/w/0000000000005-x-a1-0001.ndjson.gz');
  });

  it('makes any activity id a valid segment', () => {
    for (const activityId of ['../../credentials/c0ffee', 'with space', 'ü', '', 'x'.repeat(300)]) {
      const name = chunkName({ flushedAt: FLUSHED, workflowId: WORKFLOW, activityId, attempt: 1, seq: 1 });
      expect(() => objectKeyOf('logs', name), activityId).not.toThrow();
      expect(name.split('/')).toHaveLength(3);
    }
  });

  it("files a scheduled workflow's chunks (its id holds a time) under a valid folder its cursors match", () => {
    const workflowId = 'tavio-retention-sweep-2026-11-30T00:50:46Z';
    const name = chunkName({ flushedAt: FLUSHED, workflowId, activityId: '1', attempt: 1, seq: 1 });
    expect(() => objectKeyOf('logs', name)).not.toThrow();
    expect(name.split('/')[1]).toBe('tavio-retention-sweep-2026-11-30T00_50_46Z');
    expect(cursorOfRun(`logs/${name}`, workflowId)).toBe(true);
    expect(cursorOfRun(`logs/${name}`, 'hris-employee-sync-other')).toBe(false);
    for (const odd of ['../x', '.hidden', '', 'ü'.repeat(200)])
      expect(() => objectKeyOf('logs', runLogFolder('2026-11-30', odd)), odd).not.toThrow();
  });
});

describe('run log chunks', () => {
  it('round-trips records through gzip NDJSON', async () => {
    const records = [
      record(),
      record({ level: 'warn', event: 'record.skipped', fields: { record: 'a1', note: 'é ✓' } }),
    ];
    const bytes = await encodeChunk(records.map(recordLine));
    const ndjson = gunzipSync(bytes).toString('utf8');
    expect(ndjson.split('\n')).toHaveLength(3);
    expect(ndjson.endsWith('\n')).toBe(true);
    expect(JSON.parse(ndjson.split('\n')[1]!)).toEqual(records[1]);
    expect(await decodeChunk(bytes)).toEqual(records);
  });

  it('leaves out lines that are not records, and refuses a chunk beyond its size bound', async () => {
    const bytes = await encodeChunk(['not json', JSON.stringify({ event: 'x' }), recordLine(record())]);
    expect(await decodeChunk(bytes)).toEqual([record()]);
    const large = await encodeChunk(Array.from({ length: 100 }, () => recordLine(record())));
    await expect(decodeChunk(large, 1000)).rejects.toThrow(/more than 1000 bytes/);
  });

  it('keeps the envelope of a record too large or not serializable', () => {
    const big = JSON.parse(recordLine(record({ fields: { blob: 'x'.repeat(MAX_RECORD_BYTES) } })));
    expect(big.fields).toEqual({ truncated: true, bytes: expect.any(Number) });
    expect(big.event).toBe('page.loaded');
    expect(JSON.parse(recordLine(record({ fields: { n: 1n } }))).fields).toEqual({ unserializable: true });
  });
});

describe('run log filters', () => {
  const at = (time: string, level: LogLevel = 'info', event = 'page.loaded') =>
    record({ time, level, event });
  const filter = (f: Partial<RunLogFilter>): RunLogFilter => ({ level: 'debug', ...f });

  it('keeps records at or above the minimum level', () => {
    expect(matchesFilter(at('2026-11-29T08:00:00Z', 'debug'), filter({ level: 'info' }))).toBe(false);
    expect(matchesFilter(at('2026-11-29T08:00:00Z', 'info'), filter({ level: 'info' }))).toBe(true);
    expect(matchesFilter(at('2026-11-29T08:00:00Z', 'error'), filter({ level: 'warn' }))).toBe(true);
    expect(matchesFilter(at('2026-11-29T08:00:00Z', 'warn'), filter({ level: 'error' }))).toBe(false);
  });

  it('keeps the named events only', () => {
    const events = new Set(['record.skipped', 'activity.failed']);
    expect(matchesFilter(at('2026-11-29T08:00:00Z', 'info', 'record.skipped'), filter({ events }))).toBe(
      true,
    );
    expect(matchesFilter(at('2026-11-29T08:00:00Z', 'info', 'page.loaded'), filter({ events }))).toBe(false);
  });

  it('takes since inclusive and until exclusive', () => {
    const since = Date.parse('2026-11-29T08:00:00Z');
    const until = Date.parse('2026-11-29T09:00:00Z');
    const window = filter({ since, until });
    expect(matchesFilter(at('2026-11-29T07:59:59.999Z'), window)).toBe(false);
    expect(matchesFilter(at('2026-11-29T08:00:00.000Z'), window)).toBe(true);
    expect(matchesFilter(at('2026-11-29T08:59:59.999Z'), window)).toBe(true);
    expect(matchesFilter(at('2026-11-29T09:00:00.000Z'), window)).toBe(false);
  });

  it('reads a query with defaults, and names the parameter it refuses', () => {
    const ok = parseRunLogQuery({});
    expect(ok).toEqual({ ok: true, query: { filter: { level: 'debug' }, limit: 1000 } });
    const full = parseRunLogQuery({
      level: 'warn',
      event: 'record.skipped,activity.failed',
      since: '2026-11-29T08:00:00Z',
      until: '2026-11-29T10:00:00+01:00',
      limit: '10000',
    });
    expect(full.ok && full.query.filter.events).toEqual(new Set(['record.skipped', 'activity.failed']));
    expect(full.ok && full.query.filter.until).toBe(Date.parse('2026-11-29T09:00:00Z'));
    expect(full.ok && full.query.limit).toBe(10000);
    for (const [query, parameter] of [
      [{ level: 'verbose' }, 'level'],
      [{ limit: '0' }, 'limit'],
      [{ limit: '10001' }, 'limit'],
      [{ limit: 'ten' }, 'limit'],
      [{ since: 'yesterday' }, 'since'],
      [{ since: '2026-11-29T09:00:00Z', until: '2026-11-29T08:00:00Z' }, 'until'],
      [{ event: ',' }, 'event'],
      [{ level: ['info', 'warn'] }, 'level'],
      [{ cursor: 'bm90IGEgY3Vyc29y' }, 'cursor'],
      [{ levle: 'info' }, 'levle'],
    ] as const) {
      const refused = parseRunLogQuery(query);
      expect(refused.ok, JSON.stringify(query)).toBe(false);
      expect(!refused.ok && refused.parameter, JSON.stringify(query)).toBe(parameter);
    }
  });
});

describe('run log cursors', () => {
  it('round-trips a position as an opaque URL-safe token', () => {
    const cursor = { key: `logs/2026-11-29/${WORKFLOW}/${FLUSHED}-1-a1-0001.ndjson.gz`, line: 42 };
    const token = encodeCursor(cursor);
    expect(token).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(decodeCursor(token)).toEqual(cursor);
    const parsed = parseRunLogQuery({ cursor: token });
    expect(parsed.ok && parsed.query.cursor).toEqual(cursor);
  });

  it('refuses what it did not make', () => {
    expect(decodeCursor('')).toBeUndefined();
    expect(decodeCursor('not/base64')).toBeUndefined();
    expect(decodeCursor(Buffer.from('{"v":1,"key":"tmp/x","line":0}').toString('base64url'))).toBeUndefined();
    expect(
      decodeCursor(Buffer.from('{"v":1,"key":"logs/x","line":-1}').toString('base64url')),
    ).toBeUndefined();
  });
});

describe('reading a run log', () => {
  /** Three chunks over two days; each record's event names its order. */
  const chunks = new Map<string, RunLogRecord[]>();
  let n = 0;
  for (const [flushedAt, count] of [
    [Date.UTC(2026, 10, 29, 23, 59, 50), 3],
    [Date.UTC(2026, 10, 29, 23, 59, 55), 2],
    [Date.UTC(2026, 10, 30, 0, 0, 5), 4],
  ] as const) {
    const key = objectKeyOf(
      'logs',
      chunkName({ flushedAt, workflowId: WORKFLOW, activityId: '1', attempt: 1, seq: 1 }),
    );
    chunks.set(
      key,
      Array.from({ length: count }, () => {
        n++;
        return record({
          time: new Date(flushedAt - 100).toISOString(),
          event: `e${n}`,
          level: n % 3 === 0 ? 'warn' : 'info',
        });
      }),
    );
  }
  const opened: string[] = [];
  const source: ChunkSource = {
    async *list(prefix) {
      for (const key of [...chunks.keys()].sort()) if (key.startsWith(prefix)) yield key;
    },
    async open(key) {
      opened.push(key);
      return chunks.get(key)!;
    },
  };
  const run = { workflowId: WORKFLOW, from: '2026-11-28', to: '2026-11-30' };

  async function page(query: Partial<RunLogQuery>) {
    let text = '';
    for await (const piece of readRunLog(source, run, { filter: { level: 'debug' }, limit: 1000, ...query }))
      text += piece;
    const all = text
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as { event?: string; resumeCursor?: string });
    const lines = all.filter((line) => line.resumeCursor === undefined);
    const last = lines.at(-1) as { nextCursor?: string } | undefined;
    return last?.nextCursor
      ? { events: lines.slice(0, -1).map((l) => l.event), next: decodeCursor(last.nextCursor)! }
      : { events: lines.map((l) => l.event), next: undefined };
  }

  it('answers every record in order, without a cursor when nothing is left', async () => {
    expect(await page({})).toEqual({
      events: ['e1', 'e2', 'e3', 'e4', 'e5', 'e6', 'e7', 'e8', 'e9'],
      next: undefined,
    });
    expect(await page({ limit: 9 })).toEqual(expect.objectContaining({ next: undefined }));
  });

  it('ends a full page with where a later read goes on from: after the last settled chunk', async () => {
    const resumeOf = async (query: Partial<RunLogQuery>) => {
      let text = '';
      for await (const piece of readRunLog(source, run, {
        filter: { level: 'debug' },
        limit: 1000,
        ...query,
      }))
        text += piece;
      const last = JSON.parse(text.trim().split('\n').at(-1)!) as { resumeCursor?: string };
      return decodeCursor(last.resumeCursor!)!;
    };
    const lastKey = [...chunks.keys()].sort().at(-1)!;
    const resume = await resumeOf({});
    expect(resume).toEqual({ key: lastKey, line: 4 });
    expect((await page({ cursor: resume })).events).toEqual([]);
    expect(await resumeOf({ cursor: resume })).toEqual(resume);
  });

  it('resumes at the first chunk not yet settled, whose records a later read gives again', async () => {
    const now = Date.now();
    const keyAt = (flushedAt: number) =>
      objectKeyOf(
        'logs',
        chunkName({ flushedAt, workflowId: WORKFLOW, activityId: '1', attempt: 1, seq: 1 }),
      );
    const old = keyAt(now - 60_000);
    const young = keyAt(now - 1_000);
    const fresh: ChunkSource = {
      async *list(prefix) {
        for (const key of [old, young]) if (key.startsWith(prefix)) yield key;
      },
      open: async (key) => [record({ time: new Date(chunkFlushedAt(key)!).toISOString(), event: key })],
    };
    const today = logDay(now);
    let text = '';
    for await (const piece of readRunLog(
      fresh,
      { workflowId: WORKFLOW, from: today, to: today },
      { filter: { level: 'debug' }, limit: 1000 },
    ))
      text += piece;
    const lines = text
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { event?: string; resumeCursor?: string });
    expect(lines.map((line) => line.event).slice(0, 2)).toEqual([old, young]);
    expect(decodeCursor(lines.at(-1)!.resumeCursor!)).toEqual({ key: young, line: 0 });
  });

  it('pages with cursors, each record once, across chunks and days', async () => {
    const seen: (string | undefined)[] = [];
    let cursor: RunLogQuery['cursor'];
    for (let pages = 0; pages < 10; pages++) {
      const answer = await page({ limit: 2, ...(cursor ? { cursor } : {}) });
      expect(answer.events.length).toBeLessThanOrEqual(2);
      seen.push(...answer.events);
      cursor = answer.next;
      if (!cursor) break;
    }
    expect(seen).toEqual(['e1', 'e2', 'e3', 'e4', 'e5', 'e6', 'e7', 'e8', 'e9']);
  });

  it('filters while paging', async () => {
    const first = await page({ filter: { level: 'warn' }, limit: 2 });
    expect(first.events).toEqual(['e3', 'e6']);
    expect((await page({ filter: { level: 'warn' }, limit: 2, cursor: first.next! })).events).toEqual(['e9']);
  });

  it("lists only the token's days, whatever times the query gives", async () => {
    const listed: string[] = [];
    const counting: ChunkSource = {
      list: (prefix) => {
        listed.push(prefix);
        return source.list(prefix);
      },
      open: source.open,
    };
    const far = { level: 'debug' as const, since: Date.UTC(1970, 0, 1), until: Date.UTC(9999, 11, 31) };
    for await (const piece of readRunLog(counting, run, { filter: far, limit: 1000 }))
      expect(piece).toBeTruthy();
    expect(listed).toHaveLength(3);
    listed.length = 0;
    const after = { level: 'debug' as const, since: Date.UTC(9999, 0, 1) };
    for await (const piece of readRunLog(counting, run, { filter: after, limit: 1000 }))
      expect(piece).toBe('');
    expect(listed).toEqual([]);
  });

  it("reads the records since a time within the token's last day", async () => {
    const since = Date.UTC(2026, 10, 30, 0, 0, 0);
    expect((await page({ filter: { level: 'debug', since } })).events).toEqual(['e6', 'e7', 'e8', 'e9']);
  });

  it('does not open chunks flushed long before since', async () => {
    opened.length = 0;
    const since = Date.UTC(2026, 10, 30, 0, 30);
    expect((await page({ filter: { level: 'debug', since } })).events).toEqual([]);
    expect(opened).toEqual([]);
  });
});

describe('hashed record ids', () => {
  const scope = { organization: 'acme', environment: 'production' };

  it('are the first 16 hex digits of SHA-256 of organization/environment/id, stable', () => {
    const expected = createHash('sha256').update('acme/production/E000042').digest('hex').slice(0, 16);
    expect(hashRecordId(scope, 'E000042')).toBe(expected);
    expect(hashRecordId(scope, 'E000042')).toBe(hashRecordId({ ...scope }, 'E000042'));
    expect(expected).toMatch(/^[0-9a-f]{16}$/);
  });

  it('differ per environment and per organization', () => {
    const id = 'E000042';
    expect(hashRecordId(scope, id)).not.toBe(hashRecordId({ ...scope, environment: 'staging' }, id));
    expect(hashRecordId(scope, id)).not.toBe(hashRecordId({ ...scope, organization: 'globex' }, id));
    const log = createRunLog({ detail: 'metadata', scope, write: () => undefined });
    expect(log.hashId(id)).toBe(hashRecordId(scope, id));
  });
});

describe('skipped records', () => {
  const [employee] = generateEmployees(1, 7);

  it('map as before, and say why a record is skipped without quoting it at metadata level', () => {
    expect(mapEmployeeChecked(employee).employee).toEqual(mapEmployee(employee));
    const missing = mapEmployeeChecked({ ...employee, work_email: null });
    expect(missing.employee).toBeNull();
    expect(missing.skipped).toMatchObject({
      reason: 'missing-fields',
      fields: ['email'],
      sourceId: employee!.employee_id,
    });
    const invalid = mapEmployeeChecked({ ...employee, birth_date: '31/12/1990' });
    expect(invalid.skipped).toMatchObject({ reason: 'invalid-fields', fields: ['birthDate'] });
    expect(invalid.skipped!.issues).toEqual([
      { path: 'birthDate', source: 'birth_date', message: expect.any(String) },
    ]);
    expect(missing.skipped!.issues).toEqual([
      { path: 'email', source: 'work_email', message: expect.any(String) },
    ]);
    expect(mapEmployeeChecked('E000001').skipped).toMatchObject({
      reason: 'not-an-object',
      sourceId: undefined,
    });
  });
});

describe('run log detail', () => {
  it('is records only when asked for exactly', () => {
    expect(logDetailOf('records')).toBe('records');
    for (const value of [undefined, null, 'Records', 'metadata', true, ['records']]) {
      expect(logDetailOf(value)).toBe('metadata');
    }
    const header = (value: unknown) => ({ [LOG_DETAIL_HEADER]: defaultPayloadConverter.toPayload(value) });
    expect(logDetailFromHeaders(header('records'))).toBe('records');
    expect(logDetailFromHeaders(header('metadata'))).toBe('metadata');
    expect(logDetailFromHeaders({})).toBe('metadata');
  });

  it('writes record contents only at records detail', () => {
    const written: string[] = [];
    const write = (_level: LogLevel, event: string) => written.push(event);
    const scope = { organization: 'acme', environment: 'production' };
    createRunLog({ detail: 'metadata', scope, write }).records('record.content');
    createRunLog({ detail: 'records', scope, write }).records('record.content');
    expect(written).toEqual(['record.content']);
  });

  it('names a failure by type, its message only at records detail', () => {
    const failure = ApplicationFailure.nonRetryable('employee E1 has no email', 'SourceRequestRejected');
    expect(failureEntry(failure, 'metadata')).toEqual({
      level: 'error',
      fields: { type: 'SourceRequestRejected' },
    });
    expect(failureEntry(failure, 'records').fields.message).toBe('employee E1 has no email');
    expect(failureEntry(new TypeError('x'), 'metadata')).toEqual({
      level: 'warn',
      fields: { type: 'TypeError' },
    });
  });
});

describe('the run log interceptor', () => {
  const scope = {
    organization: 'acme',
    environment: 'production',
    region: 'eu',
    keyArn: 'arn:aws:kms:eu-central-1:1:key/k',
  };

  /** A store that keeps what is put, unsealed, with the context it was to be sealed under. */
  function target(failPuts = false) {
    const puts: { key: string; body: Uint8Array; extra: unknown }[] = [];
    const store = {
      put: async (
        purpose: ObjectPurpose,
        name: string,
        plaintext: Uint8Array,
        options: { extra?: Record<string, string> } = {},
      ) => {
        const key = objectKeyOf(purpose, name);
        if (failPuts) throw new Error('bucket unreachable');
        puts.push({ key, body: plaintext, extra: options.extra });
        return key;
      },
    } as unknown as SealedStore;
    return { puts, target: { store, scope } };
  }

  const withHeader =
    (detail: string): ActivityInterceptorsFactory =>
    () => ({
      inbound: {
        execute: (input, next) =>
          next({
            ...input,
            headers: { ...input.headers, [LOG_DETAIL_HEADER]: defaultPayloadConverter.toPayload(detail) },
          }),
      },
    });

  const environment = (factories: ActivityInterceptorsFactory[]) =>
    new MockActivityEnvironment(
      { activityId: '7', attempt: 2, workflowExecution: { workflowId: WORKFLOW, runId: 'r1' } },
      { interceptors: factories, logger: pino({ level: 'silent' }) as never },
    );

  it('writes the activity and its events as sealed chunks of the run, the last before the result', async () => {
    const { puts, target: t } = target();
    const env = environment([withHeader('records'), runLogInterceptor(t)]);
    const result = await env.run(async () => {
      for (let i = 0; i < 600; i++) runLog().info('tick', { i });
      runLog().records('record.content', { value: 'kept' });
      return runLog().detail;
    });
    expect(result).toBe('records');
    expect(puts.length).toBe(2);
    for (const put of puts) {
      expect(put.key).toMatch(
        new RegExp(`^logs/\\d{4}-\\d{2}-\\d{2}/${WORKFLOW}/\\d{13}-7-a2-\\d{4}\\.ndjson\\.gz$`),
      );
      expect(put.extra).toEqual({ run: WORKFLOW });
    }
    expect(puts.map((p) => p.key.slice(-15))).toEqual(['-0001.ndjson.gz', '-0002.ndjson.gz']);
    const records = [...(await decodeChunk(puts[0]!.body)), ...(await decodeChunk(puts[1]!.body))];
    expect(records).toHaveLength(603);
    expect(records[0]).toMatchObject({
      event: 'activity.started',
      run: WORKFLOW,
      execution: 'r1',
      activityId: '7',
      attempt: 2,
    });
    expect(records.at(-2)).toMatchObject({ event: 'record.content', fields: { value: 'kept' } });
    expect(records.at(-1)).toMatchObject({
      event: 'activity.completed',
      level: 'info',
      fields: { durationMs: expect.any(Number) },
    });
  });

  it('logs a failure without its message at metadata detail, and rethrows it', async () => {
    const { puts, target: t } = target();
    const env = environment([runLogInterceptor(t)]);
    await expect(
      env.run(async () => {
        throw ApplicationFailure.retryable('upstream said: Jane Doe', 'UpstreamUnavailable');
      }),
    ).rejects.toThrow('upstream said: Jane Doe');
    const records = await decodeChunk(puts[0]!.body);
    expect(records.at(-1)).toMatchObject({
      event: 'activity.failed',
      level: 'warn',
      fields: { type: 'UpstreamUnavailable' },
    });
    expect(JSON.stringify(records)).not.toContain('Jane Doe');
  });

  it('never fails the activity when a write fails', async () => {
    const { target: t } = target(true);
    const env = environment([runLogInterceptor(t)]);
    expect(await env.run(async () => 'done')).toBe('done');
  });

  it('is a log that keeps nothing outside an activity', () => {
    expect(runLog().detail).toBe('metadata');
    expect(() => runLog().info('x')).not.toThrow();
  });
});

describe('the run log endpoint', () => {
  const assignment: LogAssignment = {
    id: '0b7c5a5e-3f4e-4c1b-9a77-5b9a1f6f2e10',
    organization: 'acme',
    environment: 'production',
    bucket: 'b',
    keyArn: 'k',
    awsRegion: 'eu-central-1',
    dataplaneRoleArn: 'arn:aws:iam::1:role/r',
  };
  const runId = '6b1f0c52-6f4e-4a4e-9d55-2f3f9a3c1d10';
  const claims = {
    organization: 'acme',
    environment: 'production',
    environmentId: assignment.id,
    region: 'eu',
    run: runId,
    workflowId: WORKFLOW,
    from: '2026-11-29',
    to: '2026-11-29',
  };
  const server = createLogServer({
    region: 'eu',
    url: 'http://127.0.0.1:8893',
    controlApiUrl: 'http://127.0.0.1:8080',
    assignment: (id) => (id === assignment.id ? assignment : undefined),
    issueCredentials: async () => {
      throw new Error('no credentials in unit tests');
    },
    log: pino({ level: 'silent' }),
    verifyToken: async (token) => {
      if (token === 'expired') throw new (await import('jose')).errors.JWTExpired('expired', {});
      return JSON.parse(Buffer.from(token, 'base64url').toString());
    },
  });
  const tokenOf = (tavio: object) => Buffer.from(JSON.stringify({ tavio })).toString('base64url');
  const get = (path: string, token?: string) =>
    server.app.inject({
      method: 'GET',
      url: path,
      headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
    });
  const path = `/v1/organizations/acme/environments/production/runs/${runId}/logs`;

  it.each([
    ['no token', undefined, path, 401],
    ['an expired token', 'expired', path, 401],
    ['a token without run log claims', tokenOf({ organization: 'acme' }), path, 401],
    ['a token of another region', tokenOf({ ...claims, region: 'us' }), path, 403],
    ['a token of another run', tokenOf({ ...claims, run: 'other' }), path, 403],
    ['a token of another environment', tokenOf(claims), path.replace('production', 'staging'), 403],
    ['an environment not served here', tokenOf({ ...claims, environmentId: 'elsewhere' }), path, 404],
    ['a bad query', tokenOf(claims), `${path}?limit=0`, 400],
  ])('answers %s with a problem document', async (_case, token, url, status) => {
    const answer = await get(url, token);
    expect(answer.statusCode).toBe(status);
    expect(answer.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(answer.json()).toMatchObject({
      status,
      type: expect.stringMatching(/^https:\/\//),
      title: expect.any(String),
    });
  });

  it('names the refused parameter, and refuses a cursor of another run', async () => {
    expect((await get(`${path}?level=loud`, tokenOf(claims))).json()).toMatchObject({ parameter: 'level' });
    const foreign = encodeCursor({
      key: `logs/2026-11-29/other-run/${FLUSHED}-1-a1-0001.ndjson.gz`,
      line: 0,
    });
    const answer = await get(`${path}?cursor=${foreign}`, tokenOf(claims));
    expect(answer.statusCode).toBe(400);
    expect(answer.json()).toMatchObject({ parameter: 'cursor' });
  });
});
