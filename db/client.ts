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

/** Applies the committed migrations on a connection of their own. */
export async function migrateDatabase(url: string): Promise<void> {
  const sqlClient = postgres(url, { max: 1, onnotice: () => undefined });
  try {
    await migrate(drizzle(sqlClient), {
      migrationsFolder: fileURLToPath(new URL('./migrations', import.meta.url)),
    });
  } finally {
    await sqlClient.end({ timeout: 5 });
  }
}
