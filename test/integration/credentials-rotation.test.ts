import { randomBytes } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabase } from '../support/database.js';
import type { EnvScenario } from '../support/scenario.js';
import { newEnvironment, runRequest } from '../support/scenario.js';

/** The control plane writes a connection's credentials again; the next activity opens the new ones. */
describe("rotating a connection's credentials", () => {
  const database = testDatabase();
  let s: EnvScenario;
  beforeAll(async () => {
    s = await newEnvironment('us', { employees: 30, rateLimitEvery: 0 });
  });
  afterAll(async () => {
    await s.close();
    await database.close();
  });

  const runToEnd = async () => {
    const run = await s.client.createRun(s.org, s.env, runRequest(s));
    return s.client.waitForRun(s.org, s.env, run.id, { timeoutMs: 120_000 });
  };

  it('seals the new value over the old one: runs use it, the version counts, the audit log records it', async () => {
    const stale = randomBytes(16).toString('hex');
    const rotated = await s.client.rotateCredentials(s.org, s.env, s.sourceConnectionId, { apiKey: stale });
    expect(rotated.credentialsVersion).toBe(2);
    const refused = await runToEnd();
    expect(refused.status).toBe('failed');
    expect(refused.failure).toMatch(/SourceAuthRejected/);

    await s.client.rotateCredentials(s.org, s.env, s.sourceConnectionId, { apiKey: s.sourceApiKey });
    const completed = await runToEnd();
    expect(completed.status).toBe('completed');

    const audit = await database.db.execute<{ details: { credentialsVersion: number } }>(
      sql`select details from audit_log where action = 'connection.credentials_rotated' and target = ${s.sourceConnectionId} order by id`,
    );
    expect(audit.map((row) => row.details.credentialsVersion)).toEqual([2, 3]);
    // Neither value reaches the control database.
    const rows = await database.db.execute(
      sql`select (select json_agg(c) from connections c)::text || (select json_agg(a) from audit_log a)::text as everything`,
    );
    const everything = String((rows[0] as { everything: string }).everything);
    expect(everything).toContain(s.sourceConnectionId);
    expect(everything).not.toContain(stale);
    expect(everything).not.toContain(s.sourceApiKey);
  });

  it('twice at once: both are kept in order, and the sealed value is the one of the higher version', async () => {
    const stale = randomBytes(16).toString('hex');
    const [right, wrong] = await Promise.all([
      s.client.rotateCredentials(s.org, s.env, s.sourceConnectionId, { apiKey: s.sourceApiKey }),
      s.client.rotateCredentials(s.org, s.env, s.sourceConnectionId, { apiKey: stale }),
    ]);
    expect(Math.abs(right.credentialsVersion - wrong.credentialsVersion)).toBe(1);
    const run = await runToEnd();
    expect(run.status).toBe(right.credentialsVersion > wrong.credentialsVersion ? 'completed' : 'failed');
    await s.client.rotateCredentials(s.org, s.env, s.sourceConnectionId, { apiKey: s.sourceApiKey });
    expect((await runToEnd()).status).toBe('completed');
  });

  it('refuses credentials of the wrong shape for the connection kind, and keeps the version', async () => {
    const versionOf = async () =>
      (await s.client.listConnections(s.org, s.env)).find((c) => c.id === s.sourceConnectionId)!
        .credentialsVersion;
    const before = await versionOf();
    const answer = await s.client
      .rotateCredentials(s.org, s.env, s.sourceConnectionId, { token: 'a-token-for-another-kind' })
      .catch((error: unknown) => error as { status: number; problem: { type: string } });
    expect(answer).toMatchObject({
      status: 422,
      problem: { type: 'https://tavio.dev/problems/invalid-credentials' },
    });
    expect(await versionOf()).toBe(before);
  });
});
