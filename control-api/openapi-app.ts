import { loadControlApiConfig } from '../common/config.js';
import { buildApp } from './app.js';
import type { ApiDeps } from './deps.js';

/** Every counter starts its window: no request is ever limited. */
class OpenStore {
  incr(_key: string, callback: (error: Error | null, window?: { current: number; ttl: number }) => void) {
    callback(null, { current: 1, ttl: 60_000 });
  }
  child() {
    return new OpenStore();
  }
}

/**
 * The control API with no service behind it: its routes registered (none touches the database,
 * Temporal or AWS when it is registered), for its OpenAPI document and for requests that reach no
 * handler needing one (probes, refused authentication, the public JWKS, which is empty here).
 */
export async function buildServicelessApp() {
  const config = loadControlApiConfig({ TAVIO_DATABASE_URL: 'postgres://u:p@127.0.0.1:1/x' });
  const deps = {
    config,
    db: {},
    temporal: {},
    accounts: {},
    payloadKeys: {},
    signingKeys: {
      jwks: async () => ({ keys: [] }),
      sign: async () => ({ token: 'header.claims.signature', kid: 'k1', expiresAt: new Date() }),
    },
    backlog: { backlogged: () => false },
    counters: { store: OpenStore },
    // A refused key is refused as it is, never throttled.
    authThrottle: {
      assertAllowed: async () => undefined,
      failed: async (_key: string, _address: string, refusal: unknown) => refusal,
    },
  } as unknown as ApiDeps;
  const app = await buildApp(deps);
  await app.ready();
  return { app, config, deps };
}

/** The OpenAPI document exactly as `GET /openapi.json` serves it. */
export async function servedOpenapiDocument(): Promise<Record<string, unknown>> {
  const { app } = await buildServicelessApp();
  try {
    const served = await app.inject({ method: 'GET', url: '/openapi.json' });
    if (served.statusCode !== 200) throw new Error(`GET /openapi.json answered ${served.statusCode}`);
    return served.json<Record<string, unknown>>();
  } finally {
    await app.close();
  }
}
