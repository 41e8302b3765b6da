import { drizzle } from 'drizzle-orm/postgres-js';
import { migrate } from 'drizzle-orm/postgres-js/migrator';
import postgres from 'postgres';
import { fileURLToPath } from 'node:url';
import * as schema from './schema.js';

export type Database = ReturnType<typeof openDatabase>['db'];

/** Opens the control database. Call `close()` on shutdown. */
export function openDatabase(url: string, options: { max?: number } = {}) {
  const sqlClient = postgres(url, { max: options.max ?? 10, onnotice: () => undefined });
  const db = drizzle(sqlClient, { schema });
  return { db, close: () => sqlClient.end({ timeout: 5 }) };
}

/** The advisory lock migrations take: processes that start at once apply them one at a time. */
export const MIGRATION_LOCK = 'tavio:migrations';

/**
 * Applies the committed migrations on a connection of their own, holding the migration lock for
 * the whole of it: a second process waits, then finds nothing left to apply.
 */
export async function migrateDatabase(url: string): Promise<void> {
  const sqlClient = postgres(url, { max: 1, onnotice: () => undefined });
  try {
    await sqlClient`select pg_advisory_lock(hashtextextended(${MIGRATION_LOCK}, 0))`;
    await migrate(drizzle(sqlClient), {
      migrationsFolder: fileURLToPath(new URL('./migrations', import.meta.url)),
    });
  } finally {
    // Ending the session releases the lock.
    await sqlClient.end({ timeout: 5 });
  }
}
