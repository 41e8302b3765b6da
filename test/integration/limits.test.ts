import { randomBytes } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { ControlApi } from '../../control-api/platform.js';
import { testDatabase } from '../support/database.js';
import { newOrganization, operatorClient } from '../support/scenario.js';
import { startOtherControlApi } from '../support/control-api.js';

/**
 * Two more control API processes (in this one) over the platform's database, with low limits and
 * 127.0.0.1 trusted as a proxy: each test speaks from addresses of its own through X-Forwarded-For.
 */
async function limitedApi(settings: Record<string, string>): Promise<ControlApi> {
  return startOtherControlApi({ TAVIO_WEB_UI_PORT: '0', TAVIO_TRUSTED_PROXIES: '127.0.0.1/32', ...settings });
}

/** A client address of its own: one of 16 million, so that tests never share one. */
const someAddress = () => `10.${[...randomBytes(3)].join('.')}`;
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

    // A region host's key is the platform's own traffic (assignments, egress decisions): not counted.
    const host = await operatorClient().createHostKey('eu');
    for (let i = 0; i < 8; i++) {
      expect((await call(first, '/v1/regions/eu/environments', host.key, someAddress())).status).toBe(200);
    }
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

  it('answers 429 to a key prefix that keeps failing, audits the burst once, and never holds back its right secret', async () => {
    const { org, adminKey } = await newOrganization('throttle');
    const prefix = prefixOf(adminKey);
    const path = `/v1/organizations/${org}`;
    for (let i = 0; i < 3; i++) {
      expect((await call(api, path, wrongSecretOf(adminKey), someAddress())).status).toBe(401);
    }
    for (let i = 0; i < 2; i++) {
      const refused = await call(api, path, wrongSecretOf(adminKey), someAddress());
      expect(refused.status).toBe(429);
      expect(refused.body).toMatchObject({ type: 'https://tavio.dev/problems/authentication-throttled' });
      expect(refused.body.detail).toContain(prefix);
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(60);
    }
    // Knowing a prefix (it is not secret) never locks its holder out.
    expect((await call(api, path, adminKey, someAddress())).status).toBe(200);

    const audits = await throttledAudits(prefix);
    expect(audits).toHaveLength(1);
    const [owner] = await database.db.execute<{ id: string }>(
      sql`select id from organizations where slug = ${org}`,
    );
    expect(audits[0]).toMatchObject({
      organization_id: owner!.id,
      details: { scope: 'key', failures: 4, windowSeconds: 120 },
    });

    // The Web UI's sign-in counts against the same throttle, and lets the right key in.
    const signIn = (key: string) =>
      fetch(new URL('/login', api.webUiUrl), {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': someAddress() },
        body: new URLSearchParams({ key }).toString(),
        redirect: 'manual',
      });
    const wrong = await signIn(wrongSecretOf(adminKey));
    expect(wrong.status).toBe(429);
    expect(Number(wrong.headers.get('retry-after'))).toBeGreaterThan(0);
    expect((await signIn(adminKey)).status).toBe(303);
  });

  it('answers 429 to an address that fails with many keys, malformed ones included, and to no other address', async () => {
    const { org, adminKey } = await newOrganization('throttle');
    const address = someAddress();
    const path = `/v1/organizations/${org}`;
    const unknownPrefix = (kind: string) => `tav_${kind}_${randomBytes(5).toString('hex')}`;
    const attempts = [
      'not-a-key',
      `${unknownPrefix('org')}_short`,
      'Basic x',
      `${unknownPrefix('env')}_x`,
      'x',
      'y',
    ];
    for (const key of attempts) expect((await call(api, path, key, address)).status).toBe(401);
    const refused = await call(api, path, 'z', address);
    expect(refused.status).toBe(429);
    expect(refused.body.detail).toContain(`address ${address}`);
    expect((await call(api, path, 'z', someAddress())).status).toBe(401);
    expect((await call(api, path, adminKey, address)).status).toBe(200);

    const audits = await throttledAudits(address);
    expect(audits).toHaveLength(1);
    expect(audits[0]!.details).toMatchObject({ scope: 'address', address, failures: 7 });
  });
});
