import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { loadControlApiConfig } from '../../common/config.js';
import { chooseAccountId } from '../../control-api/provisioning/account-pool.js';
import { testDatabase } from '../support/database.js';
import { newEnvironment } from '../support/scenario.js';
import type { EnvScenario } from '../support/scenario.js';

/**
 * Environment accounts come from a pool the stack vends before any tenant runs: creating
 * environments never switches the S3/KMS/IAM service's enforcement off, so no tenant's credentials
 * ever act without their policies. Proven from the service's own request log.
 */

const motoLog = join(process.cwd(), '.stack', 'logs', 'moto.log');
const opened: EnvScenario[] = [];

afterAll(async () => {
  await Promise.all(opened.map((s) => s.close()));
});

describe('environment accounts', () => {
  it('are taken from the pool without the IAM enforcement of the storage and key service ever switched off', async () => {
    const mark = statSync(motoLog).size;
    opened.push(
      ...(await Promise.all([
        newEnvironment('us', { employees: 1 }),
        newEnvironment('eu', { employees: 1 }),
      ])),
    );
    const requests = readFileSync(motoLog).subarray(mark).toString('utf8');
    // The environments were provisioned through this very service...
    expect(requests).toMatch(/POST \/ HTTP/);
    // ...and its admin API was never asked to change enforcement.
    expect(requests).not.toContain('/moto-api/');
    const pool = (JSON.parse(readFileSync(inject('stack').accountPoolFile, 'utf8')) as { accounts: string[] })
      .accounts;
    for (const s of opened) expect(pool).toContain(s.environment.awsAccountId);
    expect(opened[0]!.environment.awsAccountId).not.toBe(opened[1]!.environment.awsAccountId);
  });

  it('answer 503 account-pool-exhausted when every pooled account is taken', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tavio-pool-'));
    const file = join(dir, 'pool.json');
    writeFileSync(file, JSON.stringify({ accounts: opened.map((s) => s.environment.awsAccountId) }));
    const config = loadControlApiConfig({
      TAVIO_DATABASE_URL: inject('stack').databaseUrl,
      TAVIO_ACCOUNT_FACTORY: 'pool',
      TAVIO_ACCOUNT_POOL_FILE: file,
    });
    const database = testDatabase();
    try {
      const refusal = await chooseAccountId(database.db, config).catch((error: unknown) => error);
      expect(refusal).toMatchObject({ status: 503, kind: 'account-pool-exhausted' });
      expect((refusal as Error).message).toContain('all 2 pooled accounts are taken');
    } finally {
      await database.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
