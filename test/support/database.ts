import { sql } from 'drizzle-orm';
import postgres from 'postgres';
import { inject } from 'vitest';
import { openDatabase } from '../../db/client.js';

const TABLES = ['organizations', 'environments', 'connections', 'api_keys', 'runs', 'audit_log'] as const;

/** The control database as the control API sees it: the application role. */
export function testDatabase() {
  return openDatabase(inject('stack').databaseUrl, { max: 2 });
}

/** The control database as the owner of its tables, which migrations run as. */
export function ownerDatabase() {
  return openDatabase(inject('stack').databaseMigrationUrl, { max: 1 });
}

/** Row counts of every control table: equal before and after means a request changed nothing. */
export async function tableCounts(
  db: ReturnType<typeof testDatabase>['db'],
): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const table of TABLES) {
    const [row] = await db.execute<{ n: number }>(
      sql`select count(*)::int as n from ${sql.identifier(table)}`,
    );
    counts[table] = row!.n;
  }
  return counts;
}

/** The same connection URL with another password, or none. */
export function withPassword(url: string, password: string): string {
  const parsed = new URL(url);
  parsed.password = password;
  return parsed.toString();
}

/** The same connection URL on another database of the cluster. */
export function onDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

/**
 * PostgreSQL's refusal of a statement: its SQLSTATE and message. The statement runs in a transaction
 * that is rolled back, so an attack that is not refused leaves nothing behind before its test fails.
 */
export async function statementRefusal(
  url: string,
  statement: string,
): Promise<{ code: string; message: string }> {
  const client = postgres(url, { max: 1, connect_timeout: 10, onnotice: () => undefined });
  const accepted = new Error(`\`${statement}\` was expected to be refused, and succeeded`);
  try {
    await client.begin(async (tx) => {
      await tx.unsafe(statement);
      throw accepted;
    });
  } catch (error) {
    if (error === accepted) throw error;
    const { code, message } = error as { code?: string; message: string };
    return { code: code ?? 'none', message };
  } finally {
    await client.end({ timeout: 5 });
  }
  throw accepted;
}
