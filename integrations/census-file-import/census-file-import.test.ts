import { readdirSync } from 'node:fs';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readBuffered } from '../../activities/file-buffer.js';
import type { BufferedPart } from '../../activities/file-buffer.js';
import { mapEmployee } from '../hris-employee-sync/mapping.js';
import { checksumOf } from '../../activities/upsert-destination.js';
import { EMPTY_CHECKSUM, xorHex } from '../../common/checksums.js';
import { DEFAULT_CENSUS_MAPPING } from './types.js';
import { DATAPLANE_ROLE } from '../../common/names.js';
import type { RegionCode } from '../../common/regions.js';
import { createSealedStore, objectKeyOf } from '../../common/sealed-objects.js';
import { summaryOf } from '../../control-api/client.js';
import { censusCsv } from './fixture.js';
import { generateEmployees } from '../../fixtures/employees.js';
import type { HrisEmployee } from '../../fixtures/employees.js';
import { environmentWorkerPid, waitFor } from '../../scripts/processes.js';
import { clientsAs } from '../../test/support/aws.js';
import { decodedText, histories, newEnvironment, uniqueSlug } from '../../test/support/scenario.js';
import type { EnvScenario } from '../../test/support/scenario.js';
import { sftpAccount } from '../../test/support/sftp.js';
import type { SftpAccount } from '../../test/support/sftp.js';

/**
 * census-file-import end to end: a census CSV on the stack's SFTP server is buffered into the
 * environment's bucket, checked, mapped and upserted to the fixture destination in pages, in two
 * regions; files it refuses are quarantined with nothing loaded.
 */

interface Import {
  s: EnvScenario;
  source: SftpAccount;
  connection: string;
}

const imports: Import[] = [];

async function importIn(region: RegionCode, s?: EnvScenario): Promise<Import> {
  const [env, source] = await Promise.all([s ?? newEnvironment(region, { employees: 1 }), sftpAccount()]);
  const connection = await env.client.createConnection(
    env.org,
    env.env,
    source.connection(uniqueSlug('census-drop'), { pattern: 'census-*.csv' }),
  );
  const made = { s: env, source, connection: connection.id };
  imports.push(made);
  return made;
}

async function run(i: Import, options: Record<string, unknown> = {}) {
  const created = await i.s.client.createRun(i.s.org, i.s.env, {
    integration: 'census-file-import',
    connections: { source: i.connection, destination: i.s.destinationConnectionId },
    options: { pageSize: 100, ...options },
    idempotencyKey: uniqueSlug('census'),
  });
  return i.s.client.waitForRun(i.s.org, i.s.env, created.id, { timeoutMs: 120_000 });
}

/** What hris-employee-sync's mapping makes of the same employees, paged as the import pages rows. */
function expectedChecksum(employees: HrisEmployee[], pageSize: number) {
  let checksum = EMPTY_CHECKSUM;
  for (let at = 0; at < employees.length; at += pageSize) {
    const page = employees
      .slice(at, at + pageSize)
      .map((e) => mapEmployee(e))
      .filter((e) => e !== null)
      .map((e) => JSON.stringify(e));
    checksum = xorHex(checksum, checksumOf(page));
  }
  return checksum;
}

/** The file as an export that calls the work email column `email_address` writes it. */
const renamingEmail = (csv: string) => csv.replace(/^([^\n]*)work_email/, '$1email_address');

async function bucketKeys(s: EnvScenario, prefix: string) {
  const { s3 } = await clientsAs(s.environment, DATAPLANE_ROLE);
  const listed = await s3.send(new ListObjectsV2Command({ Bucket: s.environment.bucket, Prefix: prefix }));
  return (listed.Contents ?? []).map((o) => o.Key!);
}

afterAll(async () => {
  const envs = new Set(imports.map((i) => i.s));
  await Promise.all([...envs].map((s) => s.close()));
  await Promise.all(imports.map((i) => i.source.close()));
});

describe('census-file-import', () => {
  it.each([
    ['us', 'keep'],
    ['eu', 'delete'],
  ] as const)(
    'in region %s loads every valid row of a census file to the destination in pages (source file: %s)',
    async (region, sourceAfter) => {
      const i = await importIn(region);
      const employees = generateEmployees(250, region === 'us' ? 7 : 8);
      const csv = censusCsv(employees);
      await i.source.put('census-2026-11.csv', csv);
      await i.source.put('readme.txt', 'not a census file');
      const done = await run(i, { sourceAfter });
      expect([done.status, done.failure]).toEqual(['completed', null]);
      // One employee in 50 has no work email: 5 rows are skipped.
      expect(summaryOf(done, 'census-file-import')).toMatchObject({
        files: 1,
        bytes: Buffer.byteLength(csv),
        recordsRead: 250,
        recordsWritten: 245,
        recordsSkipped: 5,
        rowsMalformed: 0,
        pages: 3,
        checksum: expectedChecksum(employees, 100),
        sourceDeleted: sourceAfter === 'delete' ? 1 : 0,
      });
      // The destination holds the same employees hris-employee-sync would have written.
      expect(i.s.destination.records.size).toBe(245);
      expect(i.s.destination.records.get(employees[0]!.employee_id)).toEqual(mapEmployee(employees[0]));
      const residency = await i.s.client.getResidency(i.s.org, i.s.env, done.id);
      expect(residency.region).toBe(region);
      expect(Object.keys(residency.egress?.hosts ?? {})).toEqual(
        expect.arrayContaining([new URL(i.source.baseUrl).host, new URL(i.s.destination.url).host]),
      );
      expect(await bucketKeys(i.s, 'tmp/')).toEqual([]);
      // Histories hold counts and digests: no file name, no row.
      const text = (await histories(i.s.environment.namespace, done.workflowId)).map(decodedText).join('\n');
      for (const secret of [
        'census-2026',
        employees[0]!.last_name,
        employees[0]!.national_id,
        employees[1]!.work_email!,
      ])
        expect(text).not.toContain(secret);
      // Imported once: a later run finds nothing new.
      const again = await run(i);
      expect(summaryOf(again, 'census-file-import')).toMatchObject({ files: 0, recordsRead: 0 });
    },
  );
});

describe('census-file-import refusing a file', () => {
  let s: EnvScenario;
  beforeAll(async () => {
    s = await newEnvironment('ca', { employees: 1 });
  }, 60_000);

  /** Imports `content` as the only census file of a new source account. */
  async function importing(content: string, options: Record<string, unknown> = {}) {
    const i = await importIn('ca', s);
    await i.source.put('census-refused.csv', content);
    return { i, done: await run(i, options) };
  }

  it('quarantines a file whose header does not match the mapping, names the missing columns, and loads nothing', async () => {
    const employees = generateEmployees(30, 11);
    const content = renamingEmail(censusCsv(employees));
    const written = s.destination.requests;
    const { i, done } = await importing(content);
    expect([done.status, done.failure]).toEqual([
      'failed',
      'CsvHeaderMismatch: census file import: the header does not match the mapping: missing columns work_email; 1 column not in the mapping, at position 4; the file was quarantined and nothing was loaded; its buffered copy was deleted',
    ]);
    expect(s.destination.requests).toBe(written);
    expect(await bucketKeys(s, 'tmp/')).toEqual([]);
    const name = `${done.workflowId}/f1`;
    expect((await bucketKeys(s, `quarantine/${done.workflowId}/`)).sort()).toEqual(
      [`quarantine/${name}`, `quarantine/${name}.about`].sort(),
    );
    // The quarantined copy is the file, sealed under the environment's key in its own place.
    const clients = await clientsAs(s.environment, DATAPLANE_ROLE);
    const store = createSealedStore({
      s3: clients.s3,
      kms: clients.kms,
      bucket: s.environment.bucket,
      scope: { organization: s.org, environment: s.env, region: 'ca', keyArn: s.environment.keyArn! },
    });
    const about = JSON.parse((await store.get('quarantine', `${name}.about`)).toString()) as {
      name: string;
      reason: string;
      parts: BufferedPart[];
    };
    expect(about).toMatchObject({
      name: 'census-refused.csv',
      reason: expect.stringContaining(
        'missing columns work_email; 1 column not in the mapping, at position 4',
      ),
    });
    const target = {
      s3: clients.s3,
      store,
      bucket: s.environment.bucket,
      keyArn: s.environment.keyArn!,
      key: objectKeyOf('quarantine', name),
      context: { run: done.workflowId, file: 'f1' },
    };
    const parts: Buffer[] = [];
    for await (const part of readBuffered(target, about.parts)) parts.push(part);
    expect(Buffer.concat(parts).toString()).toBe(content);
    // The source file stays where it was: the customer fixes it or declares another mapping.
    expect(readdirSync(i.source.folder)).toContain('census-refused.csv');
    // The run's log says that a file was quarantined, and which attempt failed how: by id and type.
    const log = (await s.client.readRunLog(s.org, s.env, done.id)).records;
    expect(log.filter((r) => r.event === 'file.quarantined').map((r) => r.fields)).toEqual([
      { file: 'f1', bytes: Buffer.byteLength(content) },
    ]);
    expect(log.filter((r) => r.event === 'activity.failed').map((r) => r.fields.type)).toContain(
      'CsvHeaderMismatch',
    );
    expect(JSON.stringify(log)).not.toContain('census-refused');
  });

  it('imports a file that did not match once its run declares the mapping of its columns', async () => {
    const employees = generateEmployees(20, 12);
    const { done } = await importing(renamingEmail(censusCsv(employees)), {
      mapping: { ...DEFAULT_CENSUS_MAPPING, email: 'email_address' },
    });
    expect(summaryOf(done, 'census-file-import')).toMatchObject({ recordsRead: 20, recordsWritten: 20 });
  });

  it('never names the cells of a file without a header, and quarantines it', async () => {
    const employees = generateEmployees(5, 13);
    const [, ...rows] = censusCsv(employees).split('\n');
    const { done } = await importing(rows.join('\n'));
    expect(done.failure).toBe(
      'CsvHeaderMismatch: census file import: the header does not match the mapping: missing columns employee_id, first_name, last_name, work_email, birth_date, hire_date, department, job_title, salary_amount, salary_currency, national_id, status; 12 columns not in the mapping, at positions 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 and 2 more; the file was quarantined and nothing was loaded; its buffered copy was deleted',
    );
    const text = (await histories(s.environment.namespace, done.workflowId)).map(decodedText).join('\n');
    for (const e of employees)
      for (const value of [e.employee_id, e.last_name, e.national_id]) expect(text).not.toContain(value);
  });

  it('skips and counts rows with a wrong number of cells, and refuses a file that cannot be read to its end', async () => {
    const employees = generateEmployees(10, 14);
    const lines = censusCsv(employees).trimEnd().split('\n');
    const malformed = [
      ...lines.slice(0, 4),
      'E999998,Only,Three',
      ...lines.slice(4),
      'E999999,Too,Many,,,,,,,,,,,,,',
    ];
    const skipping = await importing(`${malformed.join('\n')}\n`);
    expect(summaryOf(skipping.done, 'census-file-import')).toMatchObject({
      recordsRead: 12,
      recordsWritten: 10,
      recordsSkipped: 2,
      rowsMalformed: 2,
    });

    const written = s.destination.requests;
    const broken = [...lines.slice(0, 6), 'E999997,"Unclosed,quote', ...lines.slice(6)];
    const refused = await importing(`${broken.join('\n')}\n`);
    expect(refused.done.failure).toBe(
      'CsvUnreadable: census file import: the file cannot be read as CSV from row 7 on (CSV_QUOTE_NOT_CLOSED); the file was quarantined and nothing was loaded; its buffered copy was deleted',
    );
    expect(s.destination.requests).toBe(written);
  });

  it('refuses a mapping that gives one column to two fields before the run starts', async () => {
    const i = await importIn('ca', s);
    await expect(
      i.s.client.createRun(s.org, s.env, {
        integration: 'census-file-import',
        connections: { source: i.connection, destination: s.destinationConnectionId },
        options: { mapping: { ...DEFAULT_CENSUS_MAPPING, email: 'employee_id' } },
        idempotencyKey: uniqueSlug('census'),
      }),
    ).rejects.toMatchObject({ status: 422, problem: { type: expect.stringContaining('invalid-options') } });
  });
});

describe('census-file-import under a worker kill', () => {
  it('resumes an import after its worker is killed mid-file, after the last page its heartbeats reported, with exact counts', async () => {
    const i = await importIn('us');
    const employees = generateEmployees(60_000, 31);
    await i.source.put('census-large.csv', censusCsv(employees));
    const created = await i.s.client.createRun(i.s.org, i.s.env, {
      integration: 'census-file-import',
      connections: { source: i.connection, destination: i.s.destinationConnectionId },
      options: { pageSize: 20 },
      idempotencyKey: uniqueSlug('census'),
    });
    const namespace = i.s.environment.namespace;
    // Pages are upserted one request each: the worker is killed once half of the 3,000 are loaded,
    // several heartbeats (every 2 seconds at most) after the first.
    await waitFor('pages to be loaded', () => i.s.destination.requests >= 1500 || undefined, 120_000);
    const before = await waitFor('the environment worker', () => environmentWorkerPid(namespace), 10_000);
    process.kill(before, 'SIGKILL');
    const done = await i.s.client.waitForRun(i.s.org, i.s.env, created.id, { timeoutMs: 150_000 });
    expect([done.status, done.failure]).toEqual(['completed', null]);
    expect(environmentWorkerPid(namespace)).not.toBe(before);
    const valid = employees.filter((e) => mapEmployee(e) !== null).length;
    expect(summaryOf(done, 'census-file-import')).toMatchObject({
      recordsRead: 60_000,
      recordsWritten: valid,
      pages: 3000,
      checksum: expectedChecksum(employees, 20),
    });
    expect(i.s.destination.records.size).toBe(valid);
    // Resumed after the last page its heartbeats reported (they reach Temporal every 2 seconds at
    // most), not from the start: far fewer than the 1,500 pages loaded before the kill go twice.
    expect(i.s.destination.requests).toBeLessThan(3000 + 1000);
  }, 240_000);
});
