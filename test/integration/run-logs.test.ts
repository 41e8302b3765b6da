import { GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { generateKeyPair, SignJWT } from 'jose';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_RETENTION } from '../../common/retention.js';
import type { RunLogRecord } from '../../common/run-log.js';
import type { LogGrant, Run } from '../../control-api/client.js';
import { TavioApiError } from '../../control-api/client.js';
import { createSigningKeys } from '../../control-api/temporal-auth/signing-keys.js';
import { generateEmployees } from '../../fixtures/employees.js';
import { clientsAs } from '../support/aws.js';
import { testDatabase } from '../support/database.js';
import type { EnvScenario } from '../support/scenario.js';
import { completedRun, decodedText, histories, newEnvironment, runRequest } from '../support/scenario.js';

const EMPLOYEES = 120;
/** One employee in 50 has no work email: the mapping skips it. */
const SKIPPED = Math.floor(EMPLOYEES / 50);

async function readWith(grant: LogGrant, token = grant.token, query = '') {
  const response = await fetch(`${grant.url}${query}`, { headers: { authorization: `Bearer ${token}` } });
  const text = await response.text();
  return { status: response.status, type: response.headers.get('content-type'), text };
}

/** Everything that identifies or describes a fixture employee: none may leave the bucket in clear. */
function personalValues(): string[] {
  return generateEmployees(EMPLOYEES).flatMap((e) =>
    [e.first_name, e.last_name, e.work_email, e.national_id, e.employee_id].filter(
      (v): v is string => typeof v === 'string' && v.length > 4,
    ),
  );
}

describe('run logs in the environment bucket, read through its region', () => {
  const database = testDatabase();
  let s: EnvScenario;
  let other: EnvScenario;
  let metadataRun: Run;
  let recordsRun: Run;
  let metadataLog: RunLogRecord[];
  let recordsLog: RunLogRecord[];

  beforeAll(async () => {
    s = await newEnvironment('eu', { employees: EMPLOYEES });
    other = await newEnvironment('eu', { employees: 10 });
    metadataRun = await completedRun(s);
    metadataLog = await collect(metadataRun);
    const { version } = await s.client.getRetention(s.org, s.env);
    await s.admin.putRetention(s.org, s.env, { ...DEFAULT_RETENTION, runLogDetail: 'records', version });
    recordsRun = await completedRun(s);
    recordsLog = await collect(recordsRun);
  });
  afterAll(async () => {
    await s.close();
    await other.close();
    await database.close();
  });

  async function collect(run: Run): Promise<RunLogRecord[]> {
    const records: RunLogRecord[] = [];
    for await (const record of s.client.tailRunLog(s.org, s.env, run.id)) records.push(record);
    return records;
  }

  it('holds every activity of the run, in time order, each record naming run, execution, activity and attempt', () => {
    expect(metadataRun.logDetail).toBe('metadata');
    const started = metadataLog.filter((r) => r.event === 'activity.started');
    const completed = metadataLog.filter((r) => r.event === 'activity.completed');
    expect(started.length).toBeGreaterThan(0);
    expect(completed.length).toBe(started.length);
    for (const record of metadataLog) {
      expect(record).toMatchObject({
        run: metadataRun.workflowId,
        execution: expect.any(String),
        activity: expect.any(String),
        attempt: expect.any(Number),
        level: expect.stringMatching(/^(debug|info|warn|error)$/),
      });
    }
    const times = metadataLog.map((r) => r.time);
    expect(times).toEqual([...times].sort());
  });

  it('counts pages and skipped records at metadata level, with record ids hashed and no personal data', () => {
    const pages = metadataLog.filter((r) => r.event === 'page.loaded');
    expect(pages).toHaveLength(Math.ceil(EMPLOYEES / 50));
    const written = pages.reduce((sum, r) => sum + Number(r.fields.written ?? 0), 0);
    expect(written).toBe(
      metadataRun.summary && 'recordsWritten' in metadataRun.summary
        ? metadataRun.summary.recordsWritten
        : -1,
    );
    const skipped = metadataLog.filter((r) => r.event === 'record.skipped');
    expect(skipped).toHaveLength(SKIPPED);
    for (const record of skipped) expect(record.fields.recordId).toMatch(/^[0-9a-f]{16}$/);
    const text = JSON.stringify(metadataLog);
    for (const value of personalValues()) expect(text).not.toContain(value);
  });

  it('adds field-level validation errors at records level', () => {
    expect(recordsRun.logDetail).toBe('records');
    const skipped = recordsLog.filter((r) => r.event === 'record.skipped');
    expect(skipped).toHaveLength(SKIPPED);
    const detail = recordsLog.filter((r) => JSON.stringify(r.fields).includes('work_email'));
    expect(detail.length).toBeGreaterThanOrEqual(SKIPPED);
  });

  it('keeps the Temporal histories metadata only, at records level too', async () => {
    const text = (await histories(s.environment.namespace, recordsRun.workflowId))
      .map(decodedText)
      .join('\n');
    for (const value of personalValues()) expect(text).not.toContain(value);
  });

  it('keeps the control database free of personal data, at records level too', async () => {
    const tables = await database.db.execute<{ name: string }>(
      sql`select tablename as name from pg_tables where schemaname = 'public'`,
    );
    expect(tables.map((t) => t.name)).toEqual(expect.arrayContaining(['runs', 'deletion_receipts']));
    for (const { name } of tables) {
      const rows = await database.db.execute<{ row: unknown }>(
        sql`select to_jsonb(t) as row from ${sql.identifier(name)} t`,
      );
      const text = JSON.stringify(rows);
      for (const value of personalValues()) expect(text, `${name} holds ${value}`).not.toContain(value);
    }
  });

  it('filters by level, event and time, and pages with a cursor without loss or overlap', async () => {
    const events = await s.client.readRunLog(s.org, s.env, metadataRun.id, { events: ['page.loaded'] });
    expect(events.records.length).toBeGreaterThan(0);
    expect(new Set(events.records.map((r) => r.event))).toEqual(new Set(['page.loaded']));
    const warnings = await s.client.readRunLog(s.org, s.env, metadataRun.id, { level: 'warn' });
    expect(warnings.records.every((r) => r.level === 'warn' || r.level === 'error')).toBe(true);
    expect(warnings.records.length).toBe(
      metadataLog.filter((r) => r.level === 'warn' || r.level === 'error').length,
    );
    const middle = metadataLog[Math.floor(metadataLog.length / 2)]!.time;
    const since = await s.client.readRunLog(s.org, s.env, metadataRun.id, { since: middle, limit: 10_000 });
    expect(since.records).toEqual(metadataLog.filter((r) => r.time >= middle));

    const paged: RunLogRecord[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await s.client.readRunLog(s.org, s.env, metadataRun.id, { limit: 2, cursor });
      expect(page.records.length).toBeLessThanOrEqual(2);
      paged.push(...page.records);
      cursor = page.nextCursor ?? undefined;
      pages += 1;
    } while (cursor);
    expect(pages).toBe(Math.ceil(metadataLog.length / 2));
    expect(paged).toEqual(metadataLog);
  });

  it('follows a running run to its end, giving each record once', async () => {
    const started = await s.client.createRun(
      s.org,
      s.env,
      runRequest(s, { options: { pageSize: 10, pagesPerExecution: 4 } }),
    );
    const followed: RunLogRecord[] = [];
    for await (const record of s.client.tailRunLog(s.org, s.env, started.id, {
      follow: true,
      intervalMs: 300,
    }))
      followed.push(record);
    expect((await s.client.getRun(s.org, s.env, started.id)).status).toBe('completed');
    const whole: RunLogRecord[] = [];
    for await (const record of s.client.tailRunLog(s.org, s.env, started.id)) whole.push(record);
    const sorted = (records: RunLogRecord[]) => records.map((r) => JSON.stringify(r)).sort();
    expect(sorted(followed)).toEqual(sorted(whole));
    expect(whole.filter((r) => r.event === 'page.loaded')).toHaveLength(Math.ceil(EMPLOYEES / 10));
  });

  it('refuses bad queries with a problem naming the parameter', async () => {
    const grant = await s.client.createLogGrant(s.org, s.env, metadataRun.id);
    for (const [query, named] of [
      ['?level=loud', 'level'],
      ['?limit=0', 'limit'],
      ['?since=yesterday', 'since'],
      ['?cursor=%%%', 'cursor'],
    ] as const) {
      const answer = await readWith(grant, grant.token, query);
      expect(answer.status, query).toBe(400);
      expect(answer.type).toContain('application/problem+json');
      expect(answer.text).toContain(named);
    }
  });

  it("is not readable with another environment's key, token or path", async () => {
    await expect(other.client.createLogGrant(s.org, s.env, metadataRun.id)).rejects.toMatchObject({
      status: 404,
    });
    const otherRun = await completedRun(other);
    const otherGrant = await other.client.createLogGrant(other.org, other.env, otherRun.id);
    const ownGrant = await s.client.createLogGrant(s.org, s.env, metadataRun.id);
    // Another environment's token on this run's address, and this run's token on another run's.
    expect((await readWith(ownGrant, otherGrant.token)).status).toBe(403);
    const elsewhere = { ...ownGrant, url: ownGrant.url.replace(metadataRun.id, recordsRun.id) };
    expect((await readWith(elsewhere)).status).toBe(403);
  });

  it('refuses a missing, forged or expired token with 401', async () => {
    const grant = await s.client.createLogGrant(s.org, s.env, metadataRun.id);
    const none = await fetch(grant.url);
    expect(none.status).toBe(401);
    const claims = JSON.parse(Buffer.from(grant.token.split('.')[1]!, 'base64url').toString()) as Record<
      string,
      unknown
    >;
    const forger = await generateKeyPair('ES256');
    const forged = await new SignJWT(claims)
      .setProtectedHeader({
        alg: 'ES256',
        kid: JSON.parse(Buffer.from(grant.token.split('.')[0]!, 'base64url').toString()).kid,
      })
      .sign(forger.privateKey);
    expect((await readWith(grant, forged)).status).toBe(401);
    // Signed by the platform's own key, expired.
    const keys = createSigningKeys(database.db, { publishLeadMs: 0, maxTokenTtlMs: 60_000 });
    const { tavio } = claims as { tavio: Record<string, unknown> };
    const expired = await keys.sign('key:test', [], 1, { audience: 'tavio-run-logs', claims: { tavio } });
    await new Promise((resolve) => setTimeout(resolve, 1100));
    expect((await readWith(grant, expired.token)).status).toBe(401);
    // A Temporal token of the same keys is not a log token.
    const temporal = await keys.sign('key:test', [`${s.environment.namespace}:read`], 60_000);
    expect((await readWith(grant, temporal.token)).status).toBe(401);
  });

  it('leaves only ciphertext in the bucket: the S3 service holds no gzip, no NDJSON, no personal data', async () => {
    const { s3 } = await clientsAs(s.environment, 'tavio-dataplane');
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: s.environment.bucket, Prefix: 'logs/' }));
    const keys = (listed.Contents ?? []).map((o) => o.Key!);
    expect(keys.some((key) => key.includes(`/${recordsRun.workflowId}/`))).toBe(true);
    expect(keys.every((key) => /^logs\/\d{4}-\d\d-\d\d\/[^/]+\/[^/]+\.ndjson\.gz$/.test(key))).toBe(true);
    for (const key of keys.filter((k) => k.includes(recordsRun.workflowId))) {
      const object = await s3.send(new GetObjectCommand({ Bucket: s.environment.bucket, Key: key }));
      const raw = Buffer.from(await object.Body!.transformToByteArray());
      expect(raw.subarray(0, 2).equals(Buffer.from([0x1f, 0x8b]))).toBe(false);
      const text = raw.toString('latin1');
      expect(text).not.toContain('activity.started');
      for (const value of personalValues()) expect(text).not.toContain(value);
    }
  });

  it('keeps logs out of reach of another environment in the S3 service itself', async () => {
    const { s3 } = await clientsAs(other.environment, 'tavio-dataplane');
    await expect(
      s3.send(new ListObjectsV2Command({ Bucket: s.environment.bucket, Prefix: 'logs/' })),
    ).rejects.toMatchObject({ $metadata: { httpStatusCode: 403 } });
  });

  it('fails with a TavioApiError when the run is unknown', async () => {
    await expect(
      s.client.readRunLog(s.org, s.env, '00000000-0000-4000-8000-000000000000'),
    ).rejects.toBeInstanceOf(TavioApiError);
  });
});
