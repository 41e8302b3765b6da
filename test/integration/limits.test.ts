import { randomBytes } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { loadControlApiConfig } from '../../common/config.js';
import { startControlApi } from '../../control-api/platform.js';
import type { ControlApi } from '../../control-api/platform.js';
import { stackEnv } from '../../scripts/platform.js';
import { testDatabase } from '../support/database.js';
import { newOrganization } from '../support/scenario.js';

/**
 * Two more control API processes (in this one) over the platform's database, with low limits and
 * 127.0.0.1 trusted as a proxy: each test speaks from addresses of its own through X-Forwarded-For.
 */
async function limitedApi(settings: Record<string, string>): Promise<ControlApi> {
  return startControlApi(
    loadControlApiConfig({
      ...stackEnv(inject('stack')),
      TAVIO_API_PORT: '0',
      TAVIO_WEB_UI_PORT: '0',
      TAVIO_OPERATOR_KEY: inject('operatorKey'),
      TAVIO_TRUSTED_PROXIES: '127.0.0.1/32',
      ...settings,
    }),
  );
}

/** A documentation address (RFC 5737) no other test uses. */
const someAddress = () => `198.51.100.${1 + (randomBytes(1)[0]! % 250)}`;
/** A key's public prefix: `tav_<kind>_<id>` (its secret may hold `_` too). */
const prefixOf = (key: string) => /^tav_[a-z]+_[a-z0-9]{10}/.exec(key)![0];
const wrongSecretOf = (key: string) => `${prefixOf(key)}_${'x'.repeat(43)}`;

async function call(api: ControlApi, path: string, key: string | undefined, address: string) {
  const response = await fetch(new URL(path, api.url), {
    headers: { 'x-forwarded-for': address, ...(key ? { authorization: `Bearer ${key}` } : {}) },
  });
  return {
    status: response.status,
    headers: response.headers,
    body: (await response.json()) as Record<string, unknown>,
  };
}

describe('request rate limits', () => {
  const database = testDatabase();
  let first: ControlApi;
  let second: ControlApi;

  beforeAll(async () => {
    const settings = { TAVIO_RATE_LIMIT_PER_KEY: '5', TAVIO_RATE_LIMIT_PER_ADDRESS: '8' };
    [first, second] = await Promise.all([limitedApi(settings), limitedApi(settings)]);
  });
  afterAll(async () => {
    await Promise.all([first.close(), second.close()]);
    await database.close();
  });

  it('counts a key across API processes, answers 429 with Retry-After and RateLimit headers, and no other key pays for it', async () => {
    const { org, adminKey } = await newOrganization('ratelimit');
    const other = await newOrganization('ratelimit');
    const path = `/v1/organizations/${org}`;
    const remaining: string[] = [];
    for (let i = 0; i < 5; i++) {
      const answer = await call(i % 2 === 0 ? first : second, path, adminKey, someAddress());
      expect(answer.status).toBe(200);
      expect(answer.headers.get('ratelimit-limit')).toBe('5');
      remaining.push(answer.headers.get('ratelimit-remaining')!);
    }
    expect(remaining).toEqual(['4', '3', '2', '1', '0']);

    const refused = await call(second, path, adminKey, someAddress());
    expect(refused.status).toBe(429);
    expect(refused.body).toMatchObject({ type: 'https://tavio.dev/problems/rate-limited', status: 429 });
    const retryAfter = Number(refused.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(refused.headers.get('ratelimit-remaining')).toBe('0');
    expect(refused.headers.get('content-type')).toMatch(/^application\/problem\+json/);

    const unaffected = await call(first, `/v1/organizations/${other.org}`, other.adminKey, someAddress());
    expect(unaffected.status).toBe(200);
  });

  it('counts an address before any key is checked, across processes, and only where the proxy is trusted', async () => {
    const address = someAddress();
    for (let i = 0; i < 8; i++) {
      const answer = await call(i % 2 === 0 ? first : second, '/v1/organizations/x', undefined, address);
      expect(answer.status).toBe(401);
    }
    const refused = await call(first, '/v1/organizations/x', undefined, address);
    expect(refused.status).toBe(429);
    expect(refused.body.detail).toContain(`address ${address}`);
    expect((await call(first, '/v1/organizations/x', undefined, someAddress())).status).toBe(401);
    // Health probes are never counted.
    expect(
      (await fetch(new URL('/healthz', first.url), { headers: { 'x-forwarded-for': address } })).status,
    ).toBe(200);

    // The platform's own API trusts no proxy: a forwarded address counts as the connection's.
    const spoofed = someAddress();
    await fetch(new URL('/v1/organizations/x', inject('controlApiUrl')), {
      headers: { 'x-forwarded-for': spoofed },
    });
    const counted = await database.db.execute<{ key: string }>(
      sql`select key from rate_limit_counters where key = ${`address:${spoofed}`}`,
    );
    expect(counted).toHaveLength(0);
  });
});

describe('failed authentication throttling', () => {
  const database = testDatabase();
  let api: ControlApi;

  beforeAll(async () => {
    api = await limitedApi({
      TAVIO_AUTH_FAILURES_PER_KEY: '3',
      TAVIO_AUTH_FAILURES_PER_ADDRESS: '6',
      TAVIO_AUTH_FAILURE_WINDOW_SECONDS: '120',
    });
  });
  afterAll(async () => {
    await api.close();
    await database.close();
  });

  const throttledAudits = (target: string) =>
    database.db.execute<{ organization_id: string | null; details: Record<string, unknown> }>(
      sql`select organization_id, details from audit_log where action = 'auth.throttled' and target = ${target}`,
    );

  it('throttles a key prefix after repeated wrong secrets, even for its right secret, audits the burst once, and leaves other keys alone', async () => {
    const { org, adminKey } = await newOrganization('throttle');
    const other = await newOrganization('throttle');
    const prefix = prefixOf(adminKey);
    const path = `/v1/organizations/${org}`;
    for (let i = 0; i < 3; i++) {
      expect((await call(api, path, wrongSecretOf(adminKey), someAddress())).status).toBe(401);
    }
    for (const key of [wrongSecretOf(adminKey), adminKey]) {
      const refused = await call(api, path, key, someAddress());
      expect(refused.status).toBe(429);
      expect(refused.body).toMatchObject({ type: 'https://tavio.dev/problems/authentication-throttled' });
      expect(refused.body.detail).toContain(prefix);
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(60);
    }
    expect((await call(api, `/v1/organizations/${other.org}`, other.adminKey, someAddress())).status).toBe(
      200,
    );

    const audits = await throttledAudits(prefix);
    expect(audits).toHaveLength(1);
    const [owner] = await database.db.execute<{ id: string }>(
      sql`select id from organizations where slug = ${org}`,
    );
    expect(audits[0]).toMatchObject({
      organization_id: owner!.id,
      details: { scope: 'key', failures: 3, windowSeconds: 120 },
    });

    // The Web UI's sign-in counts against the same throttle.
    const signIn = await fetch(new URL('/login', api.webUiUrl), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': someAddress() },
      body: new URLSearchParams({ key: adminKey }).toString(),
      redirect: 'manual',
    });
    expect(signIn.status).toBe(429);
    expect(Number(signIn.headers.get('retry-after'))).toBeGreaterThan(0);
  });

  it('throttles an address that fails with many keys, malformed ones included, and no other address', async () => {
    const { org, adminKey } = await newOrganization('throttle');
    const address = someAddress();
    const path = `/v1/organizations/${org}`;
    const attempts = [
      'not-a-key',
      'tav_org_0000000000_short',
      wrongSecretOf(adminKey),
      'Basic x',
      'tav_env_zzzzzzzzzz_x',
      'x',
    ];
    for (const key of attempts) expect((await call(api, path, key, address)).status).toBe(401);
    const refused = await call(api, path, adminKey, address);
    expect(refused.status).toBe(429);
    expect(refused.body.detail).toContain(`address ${address}`);
    expect((await call(api, path, adminKey, someAddress())).status).toBe(200);

    const audits = await throttledAudits(address);
    expect(audits).toHaveLength(1);
    expect(audits[0]!.details).toMatchObject({ scope: 'address', address, failures: 6 });
  });
});
