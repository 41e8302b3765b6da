import { lt, sql } from 'drizzle-orm';
import type { FastifyRateLimitStore, FastifyRateLimitStoreCtor } from '@fastify/rate-limit';
import type { Database } from '../../db/client.js';
import { rateLimitCounters } from '../../db/schema.js';

export interface Window {
  /** Requests counted in the current window, this one included. */
  current: number;
  /** Milliseconds until the window ends. */
  ttl: number;
}

/**
 * Fixed-window counters in the control database, so every control API process counts the same
 * requests. One statement per count: a window that ended starts over at 1.
 */
export interface Counters {
  increment(key: string, windowMs: number): Promise<Window>;
  read(key: string): Promise<Window>;
  /** Removes counters whose window ended; what a periodic pass calls. */
  prune(): Promise<void>;
  /** The same counters as a store of @fastify/rate-limit. */
  store: FastifyRateLimitStoreCtor;
}

/** What is left of a window, by the database's clock, which set its end. */
const remainingMs =
  sql<number>`(extract(epoch from (${rateLimitCounters.windowEndsAt} - now())) * 1000)::float8`.mapWith(
    Number,
  );

export function createCounters(db: Database): Counters {
  async function increment(key: string, windowMs: number): Promise<Window> {
    const endsAt = sql`now() + make_interval(secs => ${windowMs / 1000})`;
    const [row] = await db
      .insert(rateLimitCounters)
      .values({ key, count: 1, windowEndsAt: endsAt })
      .onConflictDoUpdate({
        target: rateLimitCounters.key,
        set: {
          count: sql`case when ${rateLimitCounters.windowEndsAt} <= now() then 1 else ${rateLimitCounters.count} + 1 end`,
          windowEndsAt: sql`case when ${rateLimitCounters.windowEndsAt} <= now() then excluded.window_ends_at else ${rateLimitCounters.windowEndsAt} end`,
        },
      })
      .returning({ count: rateLimitCounters.count, ttl: remainingMs });
    return { current: row!.count, ttl: Math.max(0, row!.ttl) };
  }

  async function read(key: string): Promise<Window> {
    const [row] = await db
      .select({ count: rateLimitCounters.count, ttl: remainingMs })
      .from(rateLimitCounters)
      .where(sql`${rateLimitCounters.key} = ${key} and ${rateLimitCounters.windowEndsAt} > now()`);
    return row ? { current: row.count, ttl: Math.max(0, row.ttl) } : { current: 0, ttl: 0 };
  }

  class Store implements FastifyRateLimitStore {
    incr(key: string, callback: (error: Error | null, result?: Window) => void, timeWindow: number) {
      increment(key, timeWindow).then(
        (window) => callback(null, window),
        (error: Error) => callback(error),
      );
    }
    child(): FastifyRateLimitStore {
      return new Store();
    }
  }

  return {
    increment,
    read,
    prune: async () => {
      await db.delete(rateLimitCounters).where(lt(rateLimitCounters.windowEndsAt, sql`now()`));
    },
    store: Store,
  };
}
