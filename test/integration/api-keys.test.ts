import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabase } from '../support/database.js';
import type { EnvScenario, OrgScenario } from '../support/scenario.js';
import {
  clientWithKey,
  newEnvironment,
  newOrganization,
  operatorClient,
  rawRequest,
} from '../support/scenario.js';

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
    expect(entry?.details).toEqual({
      keyId: old.id,
      kind: 'environment',
      replacedBy: next.id,
      overlapSeconds: 0,
    });
    expect(entry?.actor_key_id).toBeTruthy();
  });

  it('rotate with an overlap: both keys work until it ends, then only the new one; a key is rotated once, even by two requests at once', async () => {
    const old = await s.admin.createEnvironmentKey(s.org, s.env, { expiresInDays: 30 });
    const rotations = await Promise.allSettled([
      s.admin.rotateApiKey(s.org, old.id, { overlapSeconds: 2 }),
      s.admin.rotateApiKey(s.org, old.id, { overlapSeconds: 2 }),
    ]);
    const next = rotations.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
    expect(next).toHaveLength(1);
    expect(rotations.find((result) => result.status === 'rejected')).toMatchObject({
      reason: { problem: { status: 409, type: 'https://tavio.dev/problems/already-rotated' } },
    });
    // The successor keeps the old key's lifetime (30 days) from now.
    expect(Date.parse(next[0]!.expiresAt!) - Date.now()).toBeGreaterThan(29 * 24 * 3600 * 1000);

    const listed = (await s.admin.listApiKeys(s.org)).find((key) => key.id === old.id);
    expect(listed).toMatchObject({ status: 'rotated', replacedBy: next[0]!.id });
    expect(Date.parse(listed!.expiresAt!) - Date.now()).toBeLessThanOrEqual(2000);
    expect((await rawRequest('GET', runsPath(), { key: old.key })).status).toBe(200);
    expect((await rawRequest('GET', runsPath(), { key: next[0]!.key })).status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 2100));
    expect(await rawRequest('GET', runsPath(), { key: old.key })).toMatchObject({
      status: 401,
      body: { detail: 'the API key has expired' },
    });
    expect((await rawRequest('GET', runsPath(), { key: next[0]!.key })).status).toBe(200);
    await expect(s.admin.rotateApiKey(s.org, old.id)).rejects.toMatchObject({ problem: { status: 409 } });
    await expect(
      s.admin.rotateApiKey(s.org, old.id, { overlapSeconds: 8 * 24 * 3600 }),
    ).rejects.toMatchObject({
      problem: { status: 400 },
    });
  });

  it("organization admin keys are issued, listed, rotated and revoked like the environment's", async () => {
    const second = await s.admin.createOrganizationKey(s.org, { expiresInDays: 90 });
    const orgPath = `/v1/organizations/${s.org}`;
    expect((await rawRequest('GET', orgPath, { key: second.key })).status).toBe(200);
    const admins = (await s.admin.listApiKeys(s.org)).filter((key) => key.kind === 'organization');
    expect(admins.map((key) => key.id)).toContain(second.id);
    expect(admins.every((key) => key.organizationId === admins[0]!.organizationId)).toBe(true);

    const third = await clientWithKey(second.key).rotateApiKey(s.org, second.id);
    expect((await rawRequest('GET', orgPath, { key: second.key })).status).toBe(401);
    expect((await rawRequest('GET', orgPath, { key: third.key })).status).toBe(200);
    await s.admin.revokeApiKey(s.org, third.id);
    expect((await rawRequest('GET', orgPath, { key: third.key })).status).toBe(401);
    // An organization never reaches the platform's keys, and an environment key no key at all.
    await expect(s.admin.listPlatformKeys()).rejects.toMatchObject({ problem: { status: 403 } });
    await expect(clientWithKey(s.envKey).createOrganizationKey(s.org)).rejects.toMatchObject({
      problem: { status: 403 },
    });
    await expect(stranger.admin.rotateApiKey(s.org, third.id)).rejects.toMatchObject({
      problem: { status: 404 },
    });
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

describe('operator and region host keys', () => {
  const database = testDatabase();
  afterAll(() => database.close());

  it('are listed, rotated with an overlap and revoked by the operator, each action audited with the acting key', async () => {
    const operator = operatorClient();
    const host = await operator.createHostKey('eu', { expiresInDays: 10 });
    const listed = (await operator.listPlatformKeys('host')).find((key) => key.id === host.id);
    expect(listed).toMatchObject({ kind: 'host', region: 'eu', status: 'active', organizationId: null });
    const assignments = '/v1/regions/eu/environments';
    expect((await rawRequest('GET', assignments, { key: host.key })).status).toBe(200);

    const next = await operator.rotatePlatformKey(host.id, { overlapSeconds: 600 });
    expect(next).toMatchObject({ kind: 'host', region: 'eu' });
    expect((await rawRequest('GET', assignments, { key: host.key })).status).toBe(200);
    expect((await rawRequest('GET', assignments, { key: next.key })).status).toBe(200);
    await operator.revokePlatformKey(host.id);
    expect((await rawRequest('GET', assignments, { key: host.key })).status).toBe(401);
    expect((await rawRequest('GET', assignments, { key: next.key })).status).toBe(200);
    await operator.revokePlatformKey(next.id);

    const own = await operator.createOperatorKey({ expiresInDays: 1 });
    expect((await clientWithKey(own.key).listPlatformKeys('operator')).map((key) => key.id)).toContain(
      own.id,
    );
    await clientWithKey(own.key).revokePlatformKey(own.id);
    expect((await rawRequest('GET', '/v1/api-keys', { key: own.key })).status).toBe(401);

    // Platform routes never act on an organization's keys.
    const { org, admin } = await newOrganization('keys');
    const [adminKey] = await admin.listApiKeys(org);
    await expect(operator.revokePlatformKey(adminKey!.id)).rejects.toMatchObject({
      problem: { status: 404 },
    });

    const actions = await database.db.execute<{ action: string; actor_key_id: string | null }>(
      sql`select action, actor_key_id from audit_log where target in (${host.prefix}, ${next.prefix}, ${own.prefix}) order by id`,
    );
    expect(actions.map((row) => row.action)).toEqual([
      'api_key.created',
      'api_key.created',
      'api_key.rotated',
      'api_key.revoked',
      'api_key.revoked',
      'api_key.created',
      'api_key.revoked',
    ]);
    expect(actions.every((row) => row.actor_key_id !== null)).toBe(true);
  });
});
