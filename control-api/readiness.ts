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

/**
 * `GET /healthz` answers while the process serves requests (liveness); `GET /readyz` answers 200
 * only while the control database answers and Temporal accepts this API's tokens (readiness: a load
 * balancer sends it traffic), 503 otherwise, naming which dependency is unavailable and nothing more.
 */
export function registerHealthRoutes(app: FastifyInstance, deps: Pick<ApiDeps, 'db' | 'temporal'>): void {
  app.get('/healthz', { schema: { hide: true } }, async () => ({ status: 'ok' }));
  app.get('/readyz', { schema: { hide: true } }, async (_request, reply) => {
    const [database, temporal] = await Promise.all([
      check(() => deps.db.execute(sql`select 1`)),
      check(() => deps.temporal.waitUntilTrusted(CHECK_TIMEOUT_MS)),
    ]);
    const ready = database === 'ok' && temporal === 'ok';
    return reply
      .code(ready ? 200 : 503)
      .send({ status: ready ? 'ready' : 'not-ready', checks: { database, temporal } });
  });
}
