import postgres from 'postgres';
import { describe, expect, inject, it } from 'vitest';
import { MIGRATION_LOCK, migrateDatabase } from '../../db/client.js';

describe('migrations', () => {
  it('run one process at a time: a second waits for the lock, then finds nothing left to apply', async () => {
    const url = inject('stack').databaseMigrationUrl;
    const holder = postgres(url, { max: 1, onnotice: () => undefined });
    try {
      await holder`select pg_advisory_lock(hashtextextended(${MIGRATION_LOCK}, 0))`;
      let done = false;
      const migrating = migrateDatabase(url).then(() => {
        done = true;
      });
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      expect(done).toBe(false);
      await holder`select pg_advisory_unlock(hashtextextended(${MIGRATION_LOCK}, 0))`;
      await migrating;
      expect(done).toBe(true);
      const [applied] = await holder<
        { n: number }[]
      >`select count(*)::int as n from drizzle.__drizzle_migrations`;
      expect(applied!.n).toBeGreaterThanOrEqual(14);
    } finally {
      await holder.end({ timeout: 5 });
    }
  });
});
