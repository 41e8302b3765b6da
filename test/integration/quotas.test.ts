import { sql } from 'drizzle-orm';
import { afterAll, describe, expect, it } from 'vitest';
import { TavioApiError } from '../../control-api/client.js';
import { testDatabase } from '../support/database.js';
import {
  newEnvironment,
  newOrganization,
  operatorClient,
  runRequest,
  uniqueSlug,
} from '../support/scenario.js';

const problemOf = (promise: Promise<unknown>) =>
  promise.then(
    () => {
      throw new Error('the request was accepted');
    },
    (error: unknown) => {
      if (!(error instanceof TavioApiError)) throw error;
      return error;
    },
  );

describe('quotas per organization', () => {
  const database = testDatabase();
  const operator = operatorClient();
  afterAll(() => database.close());

  it('are read by the organization, set by the operator only, audited, and validated', async () => {
    const { org, admin } = await newOrganization('quota');
    const initial = await admin.getQuotas(org);
    expect(initial).toMatchObject({
      organization: org,
      quotas: { environments: 20, connections: 200, runsPerMinute: 120, concurrentRunsPerEnvironment: 25 },
      overrides: {},
      usage: { environments: 0, connections: 0, runsThisMinute: 0 },
    });

    expect((await problemOf(admin.setQuotas(org, { environments: 100 }))).status).toBe(403);
    const raised = await operator.setQuotas(org, { environments: 50, runsPerMinute: 10 });
    expect(raised.quotas).toMatchObject({ environments: 50, runsPerMinute: 10, connections: 200 });
    const reset = await operator.setQuotas(org, { environments: null });
    expect(reset.overrides).toEqual({ runsPerMinute: 10 });
    expect(reset.quotas.environments).toBe(20);

    for (const bad of [{ environments: '5' }, { environments: -1 }, { environments: 1.5 }, { storage: 5 }]) {
      const refused = await problemOf(operator.setQuotas(org, bad as never));
      expect(refused.problem).toMatchObject({
        status: 400,
        type: 'https://tavio.dev/problems/validation-failed',
      });
    }
    expect((await admin.getQuotas(org)).overrides).toEqual({ runsPerMinute: 10 });

    const changes = await database.db.execute<{ details: { before: object; after: object } }>(
      sql`select a.details from audit_log a join organizations o on o.id = a.organization_id
          where o.slug = ${org} and a.action = 'organization.quotas_changed' order by a.id`,
    );
    expect(changes.map((row) => row.details.after)).toEqual([
      { environments: 50, runsPerMinute: 10 },
      { runsPerMinute: 10 },
    ]);
  });

  it('refuse an environment beyond the quota with 403 quota-exceeded and create nothing; concurrent creates take the last one once', async () => {
    const { org, admin } = await newOrganization('quota');
    await operator.setQuotas(org, { environments: 0 });
    const refused = await problemOf(admin.createEnvironment(org, 'dev', 'us'));
    expect(refused.problem).toMatchObject({
      status: 403,
      type: 'https://tavio.dev/problems/quota-exceeded',
      quota: 'environments',
      limit: 0,
    });
    expect(refused.problem.detail).toContain("the organization's quota of environments is 0");
    const rows = await database.db.execute(
      sql`select e.id from environments e join organizations o on o.id = e.organization_id where o.slug = ${org}`,
    );
    expect(rows).toHaveLength(0);

    await operator.setQuotas(org, { environments: 1 });
    const results = await Promise.allSettled(
      ['one', 'two'].map((env) => admin.createEnvironment(org, uniqueSlug(env), 'ca')),
    );
    expect(results.filter((result) => result.status === 'fulfilled')).toHaveLength(1);
    const rejected = results.find((result) => result.status === 'rejected');
    expect((rejected?.reason as TavioApiError).problem).toMatchObject({ status: 403, quota: 'environments' });
    expect((await admin.getQuotas(org)).usage.environments).toBe(1);
    const created = results.find((result) => result.status === 'fulfilled');
    await database.db.execute(
      sql`update environments set status = 'retired' where id = ${created!.value.id}`,
    );
  });

  it('refuse connections beyond the quota, runs beyond the rate with 429 and Retry-After, and replay a started run all the same', async () => {
    const s = await newEnvironment('us', { employees: 20 });
    try {
      await operator.setQuotas(s.org, { connections: 2 });
      const refused = await problemOf(
        s.client.createConnection(s.org, s.env, {
          name: 'third',
          kind: 'upsert-rest',
          baseUrl: s.destination.url,
          credentials: { token: 'x'.repeat(16) },
        }),
      );
      expect(refused.problem).toMatchObject({ status: 403, quota: 'connections', limit: 2 });
      expect((await s.admin.getQuotas(s.org)).usage.connections).toBe(2);

      await operator.setQuotas(s.org, { runsPerMinute: 1 });
      const request = runRequest(s);
      const run = await s.client.createRun(s.org, s.env, request);
      const tooMany = await problemOf(s.client.createRun(s.org, s.env, runRequest(s)));
      expect(tooMany.problem).toMatchObject({
        status: 429,
        type: 'https://tavio.dev/problems/quota-exceeded',
        quota: 'runsPerMinute',
        limit: 1,
      });
      expect(tooMany.retryAfterSeconds).toBeGreaterThanOrEqual(1);
      expect(tooMany.retryAfterSeconds).toBeLessThanOrEqual(60);
      // The same request again is the same run, not a new start.
      expect((await s.client.createRun(s.org, s.env, request)).id).toBe(run.id);
      await s.client.waitForRun(s.org, s.env, run.id);
    } finally {
      await s.close();
    }
  });

  it('refuse schedules and webhook endpoints beyond what one environment may hold, also when two are created at once', async () => {
    const s = await newEnvironment('eu', { employees: 5 });
    try {
      await operator.setQuotas(s.org, { schedulesPerEnvironment: 1, webhookEndpointsPerEnvironment: 1 });
      const schedule = (name: string) =>
        s.client.createSchedule(s.org, s.env, {
          name,
          integration: 'hris-employee-sync',
          connections: { source: s.sourceConnectionId, destination: s.destinationConnectionId },
          cron: '0 3 * * *',
          paused: true,
        });
      const endpoint = () =>
        s.client.createWebhookEndpoint(s.org, s.env, {
          url: `${s.destination.url}/hooks`,
          events: ['run.completed'],
        });
      for (const [quota, create] of [
        ['schedulesPerEnvironment', (n: number) => schedule(`nightly-${n}`)],
        ['webhookEndpointsPerEnvironment', () => endpoint()],
      ] as const) {
        const answers = await Promise.allSettled([create(1), create(2)]);
        expect(answers.filter((answer) => answer.status === 'fulfilled')).toHaveLength(1);
        const [refused] = answers.filter((answer) => answer.status === 'rejected');
        expect((refused!.reason as TavioApiError).problem).toMatchObject({ status: 403, quota, limit: 1 });
      }
      expect(await s.client.listSchedules(s.org, s.env)).toHaveLength(1);
      expect(await s.client.listWebhookEndpoints(s.org, s.env)).toHaveLength(1);
    } finally {
      await s.close();
    }
  });

  it('refuse a run beyond the concurrent runs of its environment, also when two start at once', async () => {
    const s = await newEnvironment('ca', { employees: 20 });
    try {
      await operator.setQuotas(s.org, { concurrentRunsPerEnvironment: 0 });
      const none = await problemOf(s.client.createRun(s.org, s.env, runRequest(s)));
      expect(none.problem).toMatchObject({ status: 429, quota: 'concurrentRunsPerEnvironment', limit: 0 });
      expect(none.retryAfterSeconds).toBeGreaterThanOrEqual(1);

      await operator.setQuotas(s.org, { concurrentRunsPerEnvironment: 1 });
      const results = await Promise.allSettled([
        s.client.createRun(s.org, s.env, runRequest(s)),
        s.client.createRun(s.org, s.env, runRequest(s)),
      ]);
      const started = results.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
      expect(started).toHaveLength(1);
      const rejected = results.find((result) => result.status === 'rejected');
      expect((rejected?.reason as TavioApiError).problem).toMatchObject({
        quota: 'concurrentRunsPerEnvironment',
      });
      expect(await s.client.waitForRun(s.org, s.env, started[0]!.id)).toMatchObject({ status: 'completed' });
      // Once it completed, there is room again.
      const next = await s.client.createRun(s.org, s.env, runRequest(s));
      expect(next.status).toBe('running');
    } finally {
      await s.close();
    }
  });
});
