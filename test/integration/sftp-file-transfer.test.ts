import { createHash, randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DATAPLANE_ROLE } from '../../common/names.js';
import { PART_BYTES } from '../../activities/file-buffer.js';
import type { RegionCode } from '../../common/regions.js';
import { clientsAs } from '../support/aws.js';
import { decodedText, histories, newEnvironment, uniqueSlug } from '../support/scenario.js';
import type { EnvScenario } from '../support/scenario.js';
import { readAccountFile, sftpAccount } from '../support/sftp.js';
import type { SftpAccount } from '../support/sftp.js';

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
  const connect = (name: string, account: SftpAccount, extra: Record<string, string>) =>
    s.client.createConnection(s.org, s.env, {
      name,
      kind: 'sftp',
      baseUrl: account.baseUrl,
      credentials: {
        username: account.username,
        password: account.password,
        hostKeySha256: account.hostKeySha256,
        ...extra,
      },
    });
  const [src, dst] = await Promise.all([
    connect('payroll-drop', source, { folder: '.', pattern: '*.csv' }),
    connect('payroll-vendor', destination, {}),
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
    Object.values(transfers).flatMap((t) => [t.s.close(), t.source.close(), t.destination.close()]),
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
      expect(keys).toContain(`files/ledger-${t.connections.source}`);

      // Histories hold ids, sizes and digests: no file name, no content.
      const text = (await histories(t.s.environment.namespace, done.workflowId)).map(decodedText).join('\n');
      for (const secret of ['census', 'payroll', 'notes', 'Lovelace', 'employee_id', t.source.password])
        expect(text).not.toContain(secret);
    },
  );

  it('does not transfer a file again in a later run', async () => {
    const t = transfers.us!;
    const again = await run(t, 'keep');
    expect(again.status).toBe('completed');
    expect(again.summary).toMatchObject({ files: 0, bytes: 0 });
  });
});
