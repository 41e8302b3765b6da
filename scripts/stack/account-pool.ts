import { randomInt } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import postgres from 'postgres';
import { controlPlaneArn } from '../../common/names.js';
import { DEFAULT_CONTROL_ACCOUNT_ID } from '../../common/config.js';
import type { AwsIdentities } from './aws-identities.js';
import { displayPath, type Report, type StackPaths } from './config.js';
import { createProvisionerRole, withEnforcementOff } from './emulator-iam.js';
import { writePrivateFile } from './private-files.js';

/**
 * Environment accounts vended ahead of time for `TAVIO_ACCOUNT_FACTORY=emulator-pool`: the local
 * stand-in for an account factory, on the emulator only. Each is an account of the local
 * S3/KMS/IAM service with its provisioner role in place, trusted by the control plane only. They are made at `stack up`, before any tenant process runs, so the platform never
 * switches IAM enforcement off; the control API takes an unused one for each new environment
 * (`control-api/provisioning/account-pool.ts`). Every `up` tops the pool up again.
 */

/** Unused accounts kept ready; TAVIO_ACCOUNT_POOL_SIZE overrides. */
const DEFAULT_POOL_SIZE = 300;
const VEND_CONCURRENCY = 8;

export const accountPoolFile = (paths: StackPaths): string => join(paths.stackDir, 'account-pool.json');

interface RecordedPool {
  /** The control plane's key when the pool was vended: the service forgets both when it restarts. */
  controlPlaneKey: string;
  accounts: string[];
}

function readPool(paths: StackPaths, identities: AwsIdentities): string[] {
  if (!existsSync(accountPoolFile(paths))) return [];
  const recorded = JSON.parse(readFileSync(accountPoolFile(paths), 'utf8')) as Partial<RecordedPool>;
  if (recorded.controlPlaneKey !== identities.controlPlane.accessKeyId) return [];
  return (recorded.accounts ?? []).filter((id) => /^\d{12}$/.test(id));
}

/** Accounts environments of the control database already hold; none before its first migration. */
async function accountsInUse(databaseUrl: string): Promise<Set<string>> {
  const sql = postgres(databaseUrl, { max: 1, onnotice: () => undefined });
  try {
    const [exists] = await sql<{ table: string | null }[]>`select to_regclass('environments')::text as table`;
    if (!exists?.table) return new Set();
    const rows = await sql<{ id: string }[]>`select aws_account_id as id from environments`;
    return new Set(rows.map((row) => row.id));
  } finally {
    await sql.end();
  }
}

export async function ensureAccountPool(options: {
  paths: StackPaths;
  endpoint: string;
  identities: AwsIdentities;
  databaseUrl: string;
  report: Report;
}): Promise<string> {
  const { paths, endpoint, identities, report } = options;
  const size = Number(process.env.TAVIO_ACCOUNT_POOL_SIZE ?? DEFAULT_POOL_SIZE);
  let pool = readPool(paths, identities);
  const used = await accountsInUse(options.databaseUrl);
  const missing = size - pool.filter((id) => !used.has(id)).length;
  if (missing > 0) {
    const taken = new Set([...pool, ...used, DEFAULT_CONTROL_ACCOUNT_ID]);
    const fresh: string[] = [];
    while (fresh.length < missing) {
      const id = String(randomInt(100_000_000_000, 999_999_999_999));
      if (!taken.has(id)) {
        taken.add(id);
        fresh.push(id);
      }
    }
    report(`moto: vending ${fresh.length} environment accounts (pool of ${size} unused)...`);
    await withEnforcementOff(endpoint, async () => {
      for (let i = 0; i < fresh.length; i += VEND_CONCURRENCY) {
        await Promise.all(
          fresh.slice(i, i + VEND_CONCURRENCY).map((accountId) =>
            createProvisionerRole({
              endpoint,
              accountId,
              controlPlaneArn: controlPlaneArn(DEFAULT_CONTROL_ACCOUNT_ID),
            }),
          ),
        );
      }
    });
    pool = [...pool, ...fresh];
    const recorded: RecordedPool = { controlPlaneKey: identities.controlPlane.accessKeyId, accounts: pool };
    writePrivateFile(accountPoolFile(paths), JSON.stringify(recorded, null, 2));
    report(`moto: account pool recorded in ${displayPath(accountPoolFile(paths))}; IAM enforcement on`);
  }
  return accountPoolFile(paths);
}
