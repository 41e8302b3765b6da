import { randomInt } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { inArray } from 'drizzle-orm';
import { z } from 'zod';
import type { ControlApiConfig } from '../../common/config.js';
import type { Database } from '../../db/client.js';
import { environments } from '../../db/schema.js';
import { ProblemError } from '../problems.js';
import { unrequestedAccount } from './account-record.js';

const poolSchema = z.object({ accounts: z.array(z.string().regex(/^\d{12}$/)) });

/**
 * What a new environment's row records as its AWS account. From the emulator's pool (the local
 * stack vends accounts at `stack up`, so that the platform never needs IAM enforcement off): an
 * account no environment holds, picked at random so that concurrent creations rarely pick the
 * same one (the database's unique index settles it when they do). With AWS Organizations: a
 * placeholder, since the account is created while the environment is provisioned.
 */
export async function chooseAccountId(
  db: Pick<Database, 'select'>,
  config: ControlApiConfig,
): Promise<string> {
  if (config.accountFactory === 'organizations') return unrequestedAccount();
  let accounts: string[];
  try {
    accounts = poolSchema.parse(JSON.parse(await readFile(config.accountPoolFile, 'utf8'))).accounts;
  } catch (error) {
    throw poolExhausted(
      `the account pool ${config.accountPoolFile} cannot be read (${(error as Error).message})`,
    );
  }
  const held = new Set(
    (
      await db
        .select({ id: environments.awsAccountId })
        .from(environments)
        .where(inArray(environments.awsAccountId, accounts))
    ).map((row) => row.id),
  );
  const free = accounts.filter((id) => !held.has(id));
  if (free.length === 0) throw poolExhausted(`all ${accounts.length} pooled accounts are taken`);
  return free[randomInt(free.length)]!;
}

const poolExhausted = (why: string) =>
  new ProblemError(
    503,
    'account-pool-exhausted',
    'No environment account available',
    `${why}; \`npm run stack -- up\` vends more (TAVIO_ACCOUNT_POOL_SIZE sets how many are kept ready)`,
  );
