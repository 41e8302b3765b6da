import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabase } from '../support/database.js';
import type { EnvScenario } from '../support/scenario.js';
import { newEnvironment, newOrganization, rawRequest, runRequest } from '../support/scenario.js';

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

describe('creating an environment', () => {
  const database = testDatabase();
  afterAll(async () => {
    await database.close();
  });

  async function provisionedCount(environmentId: string) {
    const [row] = await database.db.execute<{ n: number }>(
      sql`select count(*)::int as n from audit_log where environment_id = ${environmentId} and action = 'environment.provisioned'`,
    );
    return row!.n;
  }

  it('twice at once makes one environment, provisioned once: one 201, the other a 409', async () => {
    const org = await newOrganization();
    const create = () =>
      rawRequest('POST', `/v1/organizations/${org.org}/environments`, {
        key: org.adminKey,
        body: JSON.stringify({ slug: 'twice', region: 'ca' }),
      });
    const answers = await Promise.all([create(), create()]);
    expect(answers.map((a) => a.status).sort()).toEqual([201, 409]);
    const created = answers.find((a) => a.status === 201)!.body as { id: string };
    const listed = await rawRequest('GET', `/v1/organizations/${org.org}/environments`, {
      key: org.adminKey,
    });
    const environments = (listed.body as { environments: { slug: string; status: string }[] }).environments;
    expect(environments.map((e) => [e.slug, e.status])).toEqual([['twice', 'active']]);
    expect(await provisionedCount(created.id)).toBe(1);
    await database.db.execute(sql`update environments set status = 'retired' where id = ${created.id}`);
  });

  it('again while another request provisions it answers 409, and takes over once that one stalls', async () => {
    const org = await newOrganization();
    const env = await org.admin.createEnvironment(org.org, 'stalled', 'eu');
    const again = () =>
      rawRequest('POST', `/v1/organizations/${org.org}/environments`, {
        key: org.adminKey,
        body: JSON.stringify({ slug: 'stalled', region: 'eu' }),
      });
    // As a request that is provisioning it leaves the row.
    await database.db.execute(
      sql`update environments set status = 'provisioning', updated_at = now() where id = ${env.id}`,
    );
    expect(await again()).toMatchObject({
      status: 409,
      body: { type: 'https://tavio.dev/problems/provisioning-in-progress' },
    });
    expect(await provisionedCount(env.id)).toBe(1);
    // That request stopped saving anything (its process died): the next one resumes.
    await database.db.execute(
      sql`update environments set updated_at = now() - interval '6 minutes' where id = ${env.id}`,
    );
    expect(await again()).toMatchObject({ status: 201, body: { id: env.id, status: 'active' } });
    expect(await provisionedCount(env.id)).toBe(2);
    await database.db.execute(sql`update environments set status = 'retired' where id = ${env.id}`);
  });
});
