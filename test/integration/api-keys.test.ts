import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabase } from '../support/database.js';
import type { EnvScenario, OrgScenario } from '../support/scenario.js';
import { clientWithKey, newEnvironment, newOrganization, rawRequest } from '../support/scenario.js';

describe('environment API keys', () => {
  const database = testDatabase();
  let s: EnvScenario;
  let stranger: OrgScenario;
  const runsPath = () => `/v1/organizations/${s.org}/environments/${s.env}/runs`;

  beforeAll(async () => {
    s = await newEnvironment('us', { employees: 10 });
    stranger = await newOrganization('stranger');
  });
  afterAll(async () => {
    await s.close();
    await database.close();
  });

  it('are listed by prefix with their last use, never with their secrets', async () => {
    await rawRequest('GET', runsPath(), { key: s.envKey });
    const keys = await s.admin.listApiKeys(s.org);
    const listed = keys.find((key) => s.envKey.startsWith(`${key.prefix}_`));
    expect(listed).toMatchObject({
      kind: 'environment',
      environmentId: s.environment.id,
      revokedAt: null,
      lastUsedAt: expect.any(String),
    });
    expect(JSON.stringify(keys)).not.toContain(s.envKey);
  });

  it('stop working once revoked, and a second revocation answers 409', async () => {
    const issued = await s.admin.createEnvironmentKey(s.org, s.env);
    expect((await rawRequest('GET', runsPath(), { key: issued.key })).status).toBe(200);
    const revoked = await s.admin.revokeApiKey(s.org, issued.id);
    expect(revoked.revokedAt).not.toBeNull();
    expect(await rawRequest('GET', runsPath(), { key: issued.key })).toMatchObject({
      status: 401,
      body: { detail: 'the API key was revoked' },
    });
    await expect(s.admin.revokeApiKey(s.org, issued.id)).rejects.toMatchObject({
      problem: { status: 409, type: 'https://tavio.dev/problems/already-revoked' },
    });
  });

  it('rotate: the new key works, the old one stops, and the audit log links them', async () => {
    const old = await s.admin.createEnvironmentKey(s.org, s.env);
    const next = await s.admin.rotateApiKey(s.org, old.id);
    expect(next.key).not.toBe(old.key);
    expect((await rawRequest('GET', runsPath(), { key: next.key })).status).toBe(200);
    expect((await rawRequest('GET', runsPath(), { key: old.key })).status).toBe(401);
    const [entry] = await database.db.execute<{
      details: { keyId: string; replacedBy: string };
      actor_key_id: string;
    }>(
      sql`select details, actor_key_id from audit_log where action = 'api_key.rotated' and target = ${old.prefix}`,
    );
    expect(entry?.details).toEqual({ keyId: old.id, replacedBy: next.id });
    expect(entry?.actor_key_id).toBeTruthy();
  });

  it('stop working once expired', async () => {
    const issued = await s.admin.createEnvironmentKey(s.org, s.env, { expiresInDays: 30 });
    expect(issued.expiresAt).not.toBeNull();
    expect((await rawRequest('GET', runsPath(), { key: issued.key })).status).toBe(200);
    await database.db.execute(
      sql`update api_keys set expires_at = now() - interval '1 minute' where id = ${issued.id}`,
    );
    expect(await rawRequest('GET', runsPath(), { key: issued.key })).toMatchObject({
      status: 401,
      body: { detail: 'the API key has expired' },
    });
  });

  it("can be managed neither by an environment key nor by another organization's admin", async () => {
    const issued = await s.admin.createEnvironmentKey(s.org, s.env);
    await expect(clientWithKey(s.envKey).revokeApiKey(s.org, issued.id)).rejects.toMatchObject({
      problem: { status: 403 },
    });
    await expect(stranger.admin.revokeApiKey(s.org, issued.id)).rejects.toMatchObject({
      problem: { status: 404 },
    });
    await expect(stranger.admin.revokeApiKey(stranger.org, issued.id)).rejects.toMatchObject({
      problem: { status: 404 },
    });
    expect((await rawRequest('GET', runsPath(), { key: issued.key })).status).toBe(200);
  });
});
