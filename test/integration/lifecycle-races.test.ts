import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabase } from '../support/database.js';
import type { EnvScenario } from '../support/scenario.js';
import { newEnvironment, rawRequest, runRequest } from '../support/scenario.js';

describe('an environment being retired', () => {
  const database = testDatabase();
  let s: EnvScenario;
  const envPath = () => `/v1/organizations/${s.org}/environments/${s.env}`;

  async function state() {
    const [row] = await database.db.execute<{ status: string; updated_at: Date; provisioned: number }>(
      sql`select status, updated_at,
            (select count(*)::int from audit_log where environment_id = ${s.environment.id}) as provisioned
          from environments where id = ${s.environment.id}`,
    );
    return row!;
  }

  beforeAll(async () => {
    s = await newEnvironment('us', { employees: 10 });
    // Where a retirement stands while it destroys the environment's resources.
    await database.db.execute(
      sql`update environments set status = 'retiring' where id = ${s.environment.id}`,
    );
  });
  afterAll(async () => {
    await s.close();
    await database.close();
  });

  it('cannot be created again under its slug: 409, and it stays retiring, untouched', async () => {
    const before = await state();
    const answer = await rawRequest('POST', `/v1/organizations/${s.org}/environments`, {
      key: s.adminKey,
      body: JSON.stringify({ slug: s.env, region: 'us' }),
    });
    expect(answer).toMatchObject({
      status: 409,
      body: { type: 'https://tavio.dev/problems/environment-retiring' },
    });
    expect(await state()).toEqual(before);
  });

  it('is given no key, connection or run', async () => {
    const before = await state();
    const attempts = [
      rawRequest('POST', `${envPath()}/api-keys`, { key: s.adminKey, body: '{}' }),
      rawRequest('POST', `${envPath()}/connections`, {
        key: s.adminKey,
        body: JSON.stringify({
          name: 'another',
          kind: 'upsert-rest',
          baseUrl: s.destination.url,
          credentials: { token: 'x' },
        }),
      }),
      rawRequest('POST', `${envPath()}/runs`, { key: s.envKey, body: JSON.stringify(runRequest(s)) }),
    ];
    for (const answer of await Promise.all(attempts)) expect(answer.status).toBe(409);
    expect(await state()).toEqual(before);
  });
});
