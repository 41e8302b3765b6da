import { createHash, randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { summaryOf } from '../../control-api/client.js';
import { censusCsv } from '../../integrations/census-file-import/fixture.js';
import { generateEmployees } from '../../fixtures/employees.js';
import { decodedText, histories, newEnvironment, uniqueSlug } from '../support/scenario.js';
import type { EnvScenario } from '../support/scenario.js';
import { pgpDecrypt, pgpEncrypt, pgpKeyPair } from '../support/pgp.js';
import { readAccountFile, sftpAccount } from '../support/sftp.js';
import type { SftpAccount } from '../support/sftp.js';

/**
 * PGP on managed file transfers and census imports: a source connection's private key decrypts
 * what is read from it, a destination connection's public key encrypts what is delivered to it.
 */

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

let s: EnvScenario;
let ours: Awaited<ReturnType<typeof pgpKeyPair>>;
let vendor: Awaited<ReturnType<typeof pgpKeyPair>>;
const accounts: SftpAccount[] = [];

beforeAll(async () => {
  [s, ours, vendor] = await Promise.all([
    newEnvironment('eu', { employees: 1 }),
    pgpKeyPair('our passphrase'),
    pgpKeyPair('vendor passphrase'),
  ]);
}, 60_000);

afterAll(async () => {
  await s.close();
  await Promise.all(accounts.map((a) => a.close()));
});

async function account(files: Record<string, Buffer | string> = {}) {
  const made = await sftpAccount();
  accounts.push(made);
  for (const [name, content] of Object.entries(files)) await made.put(name, content);
  return made;
}

/** An sftp connection of the environment to an account, with PGP keys when given. */
async function connect(to: SftpAccount, pgp: Record<string, string> = {}) {
  const made = await s.client.createConnection(s.org, s.env, to.connection(uniqueSlug('sftp'), pgp));
  return made.id;
}

const decrypting = () => ({ pgpPrivateKey: ours.privateKey, pgpPassphrase: ours.passphrase });

async function run(integration: string, connections: { source: string; destination: string }) {
  const created = await s.client.createRun(s.org, s.env, {
    integration,
    connections,
    options: {},
    idempotencyKey: uniqueSlug('pgp'),
  });
  return s.client.waitForRun(s.org, s.env, created.id, { timeoutMs: 120_000 });
}

describe('PGP on sftp-file-transfer', () => {
  it('decrypts binary and armored messages with the source key, and encrypts for the destination key', async () => {
    const payroll = Buffer.concat([Buffer.from('employee_id,gross\n'), randomBytes(3 * 1024 * 1024)]);
    const census = Buffer.from('employee_id,first_name\nE1,Ada\n');
    const source = await account({
      'payroll.csv.pgp': await pgpEncrypt(payroll, ours.publicKey),
      'census.csv.asc': await pgpEncrypt(census, ours.publicKey, true),
    });
    const [plainDestination, vendorDestination] = await Promise.all([account(), account()]);
    const src = await connect(source, decrypting());
    const plain = await run('sftp-file-transfer', {
      source: src,
      destination: await connect(plainDestination),
    });
    expect([plain.status, plain.failure]).toEqual(['completed', null]);
    // Files go by name: census.csv.asc is f1. The summary gives what was delivered.
    expect(summaryOf(plain, 'sftp-file-transfer')?.sha256).toEqual({
      f1: sha256(census),
      f2: sha256(payroll),
    });
    expect((await readAccountFile(plainDestination, 'payroll.csv.pgp')).equals(payroll)).toBe(true);
    expect((await readAccountFile(plainDestination, 'census.csv.asc')).equals(census)).toBe(true);

    // Another source connection to the same files, whose ledger is its own: decrypted, then
    // encrypted for the vendor, whose key alone opens what it receives.
    const again = await connect(source, decrypting());
    const encrypted = await run('sftp-file-transfer', {
      source: again,
      destination: await connect(vendorDestination, { pgpPublicKey: vendor.publicKey }),
    });
    expect(encrypted.status).toBe('completed');
    const received = await readAccountFile(vendorDestination, 'payroll.csv.pgp');
    expect(received.equals(payroll)).toBe(false);
    expect((await pgpDecrypt(received, vendor.privateKey, vendor.passphrase)).equals(payroll)).toBe(true);
    expect(summaryOf(encrypted, 'sftp-file-transfer')?.sha256.f2).toBe(sha256(received));
    await expect(pgpDecrypt(received, ours.privateKey, ours.passphrase)).rejects.toThrow();
  });

  it('fails by name, delivering nothing, on a message for another key and on a truncated message', async () => {
    const content = Buffer.from('employee_id,gross\nE1,100\n');
    const forVendor = await account({ 'payroll.csv.pgp': await pgpEncrypt(content, vendor.publicKey) });
    const whole = await pgpEncrypt(randomBytes(256 * 1024), ours.publicKey);
    const truncated = await account({ 'payroll.csv.pgp': whole.subarray(0, whole.length - 4096) });
    const destination = await account();
    const dst = await connect(destination);
    const [wrongKey, cut] = await Promise.all([
      run('sftp-file-transfer', { source: await connect(forVendor, decrypting()), destination: dst }),
      run('sftp-file-transfer', { source: await connect(truncated, decrypting()), destination: dst }),
    ]);
    expect([wrongKey.status, wrongKey.failure]).toEqual([
      'failed',
      "PgpDecryptFailed: decrypting the file from the source server: the file is a PGP message for another key than the connection's; its buffered copy was deleted",
    ]);
    expect(cut.failure).toBe(
      'PgpDecryptFailed: decrypting the file from the source server: the file is not a PGP message, or it is corrupt or truncated; its buffered copy was deleted',
    );
    // Nothing under the final name, nothing left under a temporary one.
    expect(readdirSync(destination.folder)).toEqual([]);
    const text = (await histories(s.environment.namespace, cut.workflowId)).map(decodedText).join('\n');
    expect(text).not.toContain('payroll');
  });
});

describe('PGP on census-file-import', () => {
  it('imports an encrypted census file, decrypted with the source key', async () => {
    const employees = generateEmployees(40, 21);
    const source = await account({
      'census.csv.pgp': await pgpEncrypt(Buffer.from(censusCsv(employees)), ours.publicKey),
    });
    const done = await run('census-file-import', {
      source: await connect(source, decrypting()),
      destination: s.destinationConnectionId,
    });
    expect([done.status, done.failure]).toEqual(['completed', null]);
    expect(summaryOf(done, 'census-file-import')).toMatchObject({ recordsRead: 40, recordsWritten: 40 });
    expect(s.destination.records.get(employees[0]!.employee_id)).toMatchObject({
      familyName: employees[0]!.last_name,
    });
  });
});
