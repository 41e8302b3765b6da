import { sql } from 'drizzle-orm';
import { inject } from 'vitest';
import { openDatabase } from '../../db/client.js';

const TABLES = ['organizations', 'environments', 'connections', 'api_keys', 'runs', 'audit_log'] as const;

export function testDatabase() {
  return openDatabase(inject('stack').databaseUrl, { max: 2 });
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
