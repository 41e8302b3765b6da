import { sql } from 'drizzle-orm';
import type { FastifyInstance } from 'fastify';
import type { ApiDeps } from './deps.js';

/** How long one dependency may take to answer before the API counts it unavailable. */
const CHECK_TIMEOUT_MS = 2_000;

type CheckOutcome = 'ok' | 'unavailable';

async function check(probe: () => Promise<unknown>): Promise<CheckOutcome> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('timed out')), CHECK_TIMEOUT_MS);
  });
  try {
    await Promise.race([probe(), timeout]);
    return 'ok';
  } catch {
    return 'unavailable';
  } finally {
    clearTimeout(timer);
  }
}

/** How long one readiness answer serves every caller: probes never cost more than one check a second. */
const READINESS_TTL_MS = 1_000;

interface Readiness {
  ready: boolean;
  checks: { database: CheckOutcome; temporal: CheckOutcome };
}

/**
 * `GET /healthz` answers while the process serves requests (liveness); `GET /readyz` answers 200
 * only while the control database answers and Temporal accepts this API's tokens (readiness: a load
 * balancer sends it traffic), 503 otherwise, naming which dependency is unavailable and nothing more.
 * Both need no key, so callers share one check in flight and its answer for a second: however often
 * `/readyz` is asked, the database and Temporal are asked at most once a second.
 */
export function registerHealthRoutes(app: FastifyInstance, deps: Pick<ApiDeps, 'db' | 'temporal'>): void {
  let latest: { at: number; answer: Promise<Readiness> } | undefined;
  const readiness = (): Promise<Readiness> => {
    if (latest && Date.now() - latest.at < READINESS_TTL_MS) return latest.answer;
    const answer = Promise.all([
      check(() => deps.db.execute(sql`select 1`)),
      check(() => deps.temporal.waitUntilTrusted(CHECK_TIMEOUT_MS)),
    ]).then(([database, temporal]) => ({
      ready: database === 'ok' && temporal === 'ok',
      checks: { database, temporal },
    }));
    // Counted from when the check ends, so a slow check is not repeated by every caller meanwhile.
    latest = { at: Number.POSITIVE_INFINITY, answer };
    void answer.then(() => {
      if (latest?.answer === answer) latest.at = Date.now();
    });
    return answer;
  };
  app.get('/healthz', { schema: { hide: true } }, async () => ({ status: 'ok' }));
  app.get('/readyz', { schema: { hide: true } }, async (_request, reply) => {
    const { ready, checks } = await readiness();
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not-ready', checks });
  });
}
