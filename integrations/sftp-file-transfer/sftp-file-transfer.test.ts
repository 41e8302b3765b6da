import { createHash, randomBytes } from 'node:crypto';
import { appendFileSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ListMultipartUploadsCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { DATAPLANE_ROLE } from '../../common/names.js';
import { PART_BYTES } from '../../activities/file-buffer.js';
import type { RegionCode } from '../../common/regions.js';
import { environmentWorkerPid, waitFor } from '../../scripts/processes.js';
import { clientsAs } from '../../test/support/aws.js';
import { decodedText, histories, newEnvironment, uniqueSlug } from '../../test/support/scenario.js';
import type { EnvScenario } from '../../test/support/scenario.js';
import { readAccountFile, sftpAccount } from '../../test/support/sftp.js';
import type { SftpAccount } from '../../test/support/sftp.js';

/**
 * sftp-file-transfer end to end: files on the stack's SFTP server (one account as the customer's
 * source, another as its destination) move through the environment's worker, its region's
 * gateway and its bucket, in two regions.
 */

interface Transfer {
  s: EnvScenario;
  source: SftpAccount;
  destination: SftpAccount;
  connections: { source: string; destination: string };
  files: Record<string, Buffer>;
}

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');
const transfers: Partial<Record<RegionCode, Transfer>> = {};
let killed: Transfer | undefined;

/** An sftp connection of the environment to an account, signed in by password. */
function connectSftp(s: EnvScenario, name: string, account: SftpAccount, extra: Record<string, string> = {}) {
  return s.client.createConnection(s.org, s.env, account.connection(name, extra));
}

async function transferIn(region: RegionCode): Promise<Transfer> {
  const [s, source, destination] = await Promise.all([
    newEnvironment(region, { employees: 5 }),
    sftpAccount(),
    sftpAccount(),
  ]);
  const files = {
    // More than one part, so that parts are sealed and delivered one by one.
    [`payroll-2026-11-${region}.csv`]: Buffer.concat([
      Buffer.from('employee_id,gross\n'),
      randomBytes(PART_BYTES + 4096),
    ]),
    'census.csv': Buffer.from('employee_id,first_name,last_name\nE1,Ada,Lovelace\n'),
    // Does not match the pattern.
    'notes.txt': Buffer.from('not for transfer\n'),
  };
  for (const [name, content] of Object.entries(files)) await source.put(name, content);
  const [src, dst] = await Promise.all([
    connectSftp(s, 'payroll-drop', source, { folder: '.', pattern: '*.csv' }),
    connectSftp(s, 'payroll-vendor', destination),
  ]);
  return { s, source, destination, connections: { source: src.id, destination: dst.id }, files };
}

async function run(t: Transfer, sourceAfter: 'keep' | 'delete') {
  const created = await t.s.client.createRun(t.s.org, t.s.env, {
    integration: 'sftp-file-transfer',
    connections: t.connections,
    options: { sourceAfter },
    idempotencyKey: uniqueSlug('transfer'),
  });
  return t.s.client.waitForRun(t.s.org, t.s.env, created.id, { timeoutMs: 120_000 });
}

beforeAll(async () => {
  const [us, ca] = await Promise.all([transferIn('us'), transferIn('ca')]);
  transfers.us = us;
  transfers.ca = ca;
}, 120_000);

afterAll(async () => {
  await Promise.all(
    [...Object.values(transfers), ...(killed ? [killed] : [])].flatMap((t) => [
      t.s.close(),
      t.source.close(),
      t.destination.close(),
    ]),
  );
});

describe('sftp-file-transfer', () => {
  it.each([
    ['us', 'keep'],
    ['ca', 'delete'],
  ] as const)(
    'in region %s moves the matching files whole to the destination (source files: %s), leaving nothing buffered',
    async (region, sourceAfter) => {
      const t = transfers[region]!;
      const done = await run(t, sourceAfter);
      expect(done.status).toBe('completed');
      const payroll = `payroll-2026-11-${region}.csv`;
      // Listed by name: census.csv is f1, the payroll file f2.
      expect(done.summary).toMatchObject({
        files: 2,
        bytes: t.files['census.csv']!.length + t.files[payroll]!.length,
        sha256: { f1: sha256(t.files['census.csv']!), f2: sha256(t.files[payroll]!) },
        sourceDeleted: sourceAfter === 'delete' ? 2 : 0,
      });
      expect(readdirSync(t.destination.folder).sort()).toEqual(['census.csv', payroll]);
      for (const name of ['census.csv', payroll])
        expect((await readAccountFile(t.destination, name)).equals(t.files[name]!)).toBe(true);
      expect(readdirSync(t.source.folder).sort()).toEqual(
        sourceAfter === 'delete' ? ['notes.txt'] : ['census.csv', 'notes.txt', payroll],
      );
      // The SFTP sessions went through the region's gateway, which logged them under the run.
      const residency = await t.s.client.getResidency(t.s.org, t.s.env, done.id);
      expect(residency.region).toBe(region);
      expect(Object.keys(residency.egress?.hosts ?? {})).toContain(new URL(t.source.baseUrl).host);

      // Nothing of the run stays under tmp/; the ledger of transferred files is sealed in files/.
      const { s3 } = await clientsAs(t.s.environment, DATAPLANE_ROLE);
      const listed = await s3.send(new ListObjectsV2Command({ Bucket: t.s.environment.bucket }));
      const keys = (listed.Contents ?? []).map((o) => o.Key);
      expect(keys.filter((k) => k?.startsWith('tmp/'))).toEqual([]);
      expect(keys).toContain(`files/ledger-${t.connections.source}-sftpFileTransfer`);

      // Histories hold ids, sizes and digests: no file name, no content, and no per-part records
      // (they stay in the bucket, so payloads do not grow with a file's size).
      const text = (await histories(t.s.environment.namespace, done.workflowId)).map(decodedText).join('\n');
      for (const secret of [
        'census',
        'payroll',
        'notes',
        'Lovelace',
        'employee_id',
        t.source.password,
        'etag',
      ])
        expect(text).not.toContain(secret);

      // The run's log tells each file by id and size, in the environment's bucket only.
      const log = (await t.s.client.readRunLog(t.s.org, t.s.env, done.id)).records;
      const delivered = log.filter((r) => r.event === 'file.delivered');
      expect(
        delivered.map((r) => r.fields).sort((a, b) => String(a.file).localeCompare(String(b.file))),
      ).toEqual([
        { file: 'f1', bytes: t.files['census.csv']!.length },
        { file: 'f2', bytes: t.files[payroll]!.length },
      ]);
      const logText = JSON.stringify(log);
      for (const name of ['census', 'payroll', 'notes']) expect(logText).not.toContain(name);
    },
  );

  it('fails, naming the step and never a path, when the source folder is missing or the destination refuses writes', async () => {
    const t = transfers.ca!;
    const [missing, readOnly] = await Promise.all([
      connectSftp(t.s, 'missing-folder', t.source, { folder: 'exports-2026' }),
      // The account's chroot root belongs to root: nothing can be written there.
      connectSftp(t.s, 'read-only', t.destination, { folder: '/' }),
    ]);
    await t.source.put('late.csv', 'employee_id\nE9\n');
    const failed = async (connections: { source: string; destination: string }) => {
      const created = await t.s.client.createRun(t.s.org, t.s.env, {
        integration: 'sftp-file-transfer',
        connections,
        options: {},
        idempotencyKey: uniqueSlug('transfer'),
      });
      return t.s.client.waitForRun(t.s.org, t.s.env, created.id, { timeoutMs: 120_000 });
    };
    const noFolder = await failed({ source: missing.id, destination: t.connections.destination });
    expect([noFolder.status, noFolder.failure]).toEqual([
      'failed',
      'SftpPathMissing: listing the folder on the source server: no such file or folder',
    ]);
    const refused = await failed({ source: t.connections.source, destination: readOnly.id });
    expect([refused.status, refused.failure]).toEqual([
      'failed',
      'SftpPermissionDenied: writing the file on the destination server: permission denied; its buffered copy was deleted',
    ]);
    // Nothing was delivered, and the buffered copy was dropped with the run.
    expect(readdirSync(t.destination.folder)).not.toContain('late.csv');
    const { s3 } = await clientsAs(t.s.environment, DATAPLANE_ROLE);
    const listed = await s3.send(
      new ListObjectsV2Command({ Bucket: t.s.environment.bucket, Prefix: 'tmp/' }),
    );
    expect(listed.Contents ?? []).toEqual([]);
  });

  it('fails SourceFileChanged when a file grows while it is read, keeping nothing of it in the bucket', async () => {
    const source = await sftpAccount();
    const t = { ...transfers.ca!, source };
    const name = 'growing.csv';
    await source.put(name, randomBytes(8 * PART_BYTES));
    const src = await connectSftp(t.s, 'growing-drop', source);
    const created = await t.s.client.createRun(t.s.org, t.s.env, {
      integration: 'sftp-file-transfer',
      connections: { source: src.id, destination: t.connections.destination },
      options: {},
      idempotencyKey: uniqueSlug('transfer'),
    });
    // Once the run has listed the file, it grows: whether its buffering has started or not, what
    // it reads is not what was listed.
    const log = inject('stack').gatewayFiles.ca1.accessLog;
    await waitFor(
      'the run to write its manifest',
      () =>
        readFileSync(log, 'utf8')
          .split('\n')
          .some((line) => line.includes(`run=${created.workflowId} `) && line.includes(' method=PUT ')) ||
        undefined,
      60_000,
    );
    appendFileSync(join(source.folder, name), 'E9,late row\n');
    const done = await t.s.client.waitForRun(t.s.org, t.s.env, created.id, { timeoutMs: 120_000 });
    await source.close();
    expect([done.status, done.failure]).toEqual([
      'failed',
      'SourceFileChanged: reading from the source server: the file changed or went away since it was listed; its buffered copy was deleted',
    ]);
    expect(readdirSync(t.destination.folder)).not.toContain(name);
    const { s3 } = await clientsAs(t.s.environment, DATAPLANE_ROLE);
    const prefix = `tmp/${done.workflowId}/`;
    const [objects, uploads] = await Promise.all([
      s3.send(new ListObjectsV2Command({ Bucket: t.s.environment.bucket, Prefix: prefix })),
      s3.send(new ListMultipartUploadsCommand({ Bucket: t.s.environment.bucket, Prefix: prefix })),
    ]);
    expect([objects.Contents ?? [], uploads.Uploads ?? []]).toEqual([[], []]);
  }, 180_000);

  it('does not transfer a file again in a later run', async () => {
    const t = transfers.us!;
    const again = await run(t, 'keep');
    expect(again.status).toBe('completed');
    expect(again.summary).toMatchObject({ files: 0, bytes: 0 });
  });
});

describe('sftp-file-transfer under a worker kill', () => {
  it('resumes a file mid-transfer after its worker is killed, uploading no part twice, and delivers it once, whole', async () => {
    const t = await transferIn('us');
    killed = t;
    const big = 'payroll-big.csv';
    t.files[big] = randomBytes(5 * PART_BYTES + 777);
    await t.source.put(big, t.files[big]!);
    const created = await t.s.client.createRun(t.s.org, t.s.env, {
      integration: 'sftp-file-transfer',
      connections: t.connections,
      options: { sourceAfter: 'keep' },
      idempotencyKey: uniqueSlug('transfer'),
    });
    const log = inject('stack').gatewayFiles.us1.accessLog;
    const uploads = () =>
      readFileSync(log, 'utf8')
        .split('\n')
        .filter(
          (line) =>
            line.includes(`run=${created.workflowId} `) &&
            line.includes(' method=PUT ') &&
            // The run's own log chunks are not the file's uploads.
            !line.includes('/logs/') &&
            // Stored: a request the S3 service refused and the SDK sent again counts once.
            line.includes(' status=200 '),
        ).length;
    // Files go by name: census.csv (f1, one part), payroll-2026-11-us.csv (f2, two), the big file
    // (f3, six). After the manifest, each file writes its parts, the record of its parts and the
    // ledger: the 10th upload is the big file's second part, and the worker is killed then.
    await waitFor('parts of the big file to be buffered', () => uploads() >= 10 || undefined, 60_000);
    const namespace = t.s.environment.namespace;
    const before = await waitFor('the environment worker', () => environmentWorkerPid(namespace), 10_000);
    process.kill(before, 'SIGKILL');
    const done = await t.s.client.waitForRun(t.s.org, t.s.env, created.id, { timeoutMs: 150_000 });
    expect(done.status).toBe('completed');
    expect(environmentWorkerPid(namespace)).not.toBe(before);
    expect(done.summary).toMatchObject({ files: 3, sha256: { f3: sha256(t.files[big]!) } });
    expect((await readAccountFile(t.destination, big)).equals(t.files[big]!)).toBe(true);
    expect(readdirSync(t.destination.folder).sort()).toEqual(['census.csv', 'payroll-2026-11-us.csv', big]);
    // The manifest, 1 + 2 + 6 parts, 3 records of parts and 3 ledger writes; only a part in flight
    // at the kill goes twice.
    expect(uploads()).toBeLessThanOrEqual(1 + 9 + 3 + 3 + 1);
  }, 240_000);
});
