import { sql } from 'drizzle-orm';
import type { Database } from './client.js';

/**
 * Takes a PostgreSQL advisory lock named `name` until the caller's transaction ends: requests in
 * every control API process that take the same name run one at a time.
 */
export async function transactionLock(tx: Pick<Database, 'execute'>, name: string): Promise<void> {
  await tx.execute(sql`select pg_advisory_xact_lock(hashtextextended(${name}, 0))`);
}
