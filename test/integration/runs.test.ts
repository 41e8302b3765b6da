import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EnvScenario } from '../support/scenario.js';
import { newEnvironment, newOrganization, rawRequest, runRequest } from '../support/scenario.js';
import { waitFor } from '../../scripts/processes.js';
import { eq } from 'drizzle-orm';
import { runs } from '../../db/schema.js';
import { testDatabase } from '../support/database.js';

describe('runs through the API', () => {
  let s: EnvScenario;
  let other: EnvScenario;
  beforeAll(async () => {
    s = await newEnvironment('eu', { employees: 2000, rateLimitEvery: 2 });
    other = await newEnvironment('eu', { employees: 10 });
  });
  afterAll(async () => {
    await Promise.all([s.close(), other.close()]);
  });

  it('answers reads from the run row, which moves forward when the workflow closes, never on a read', async () => {
    const own = await newEnvironment('eu', { employees: 10 });
    const run = await own.client.createRun(own.org, own.env, runRequest(own));
    const done = await own.client.waitForRun(own.org, own.env, run.id, { timeoutMs: 60_000 });
    expect(done.status).toBe('completed');
    const database = testDatabase();
    try {
      // Long after the reconciler moved it, the row is put back to running, as created after its
      // workflow closed: the reconciler looks for executions closed since shortly before its
      // running runs were created, so only a read could now take it to completed again.
      await new Promise((resolve) => setTimeout(resolve, 8_000));
      await database.db
        .update(runs)
        .set({ status: 'running', createdAt: new Date() })
        .where(eq(runs.id, run.id));
      // Several reconciler passes go by before the reads.
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      const read = await own.client.getRun(own.org, own.env, run.id);
      const listed = await own.client.listRuns(own.org, own.env);
      expect(read.status).toBe('running');
      expect(listed.find((r) => r.id === run.id)?.status).toBe('running');
      const [row] = await database.db.select().from(runs).where(eq(runs.id, run.id));
      expect(row?.status).toBe('running');
    } finally {
      await database.db.update(runs).set({ status: 'completed' }).where(eq(runs.id, run.id));
      await database.close();
      await own.close();
    }
  }, 90_000);

  it('starts one run for five requests at once with the same idempotency key, and one workflow', async () => {
    const own = await newEnvironment('eu', { employees: 10 });
    try {
      const request = runRequest(own);
      const answers = await Promise.all(
        Array.from({ length: 5 }, () =>
          rawRequest('POST', `/v1/organizations/${own.org}/environments/${own.env}/runs`, {
            key: own.envKey,
            body: JSON.stringify(request),
          }),
        ),
      );
      expect(answers.map((answer) => answer.status).sort()).toEqual([200, 200, 200, 200, 201]);
      const ids = new Set(answers.map((answer) => (answer.body as { id: string }).id));
      expect(ids.size).toBe(1);
      const listed = await own.client.listRuns(own.org, own.env);
      expect(listed.filter((run) => run.idempotencyKey === request.idempotencyKey)).toHaveLength(1);
      await own.client.waitForRun(own.org, own.env, [...ids][0]!);
    } finally {
      await own.close();
    }
  });

  it('creates runs in more fresh environments at once than the control API has database connections', async () => {
    const org = await newOrganization();
    const regions = ['us', 'ca', 'eu'] as const;
    const fresh = await Promise.all(
      Array.from({ length: 12 }, (_, i) => newEnvironment(regions[i % 3]!, { org, employees: 5 })),
    );
    try {
      // Each is the first run of its namespace: the control API signs a token for each.
      const created = await Promise.race([
        Promise.all(fresh.map((e) => e.client.createRun(e.org, e.env, runRequest(e)))),
        new Promise<never>((_, reject) =>
          setTimeout(() => reject(new Error('run creation did not answer within 30 s')), 30_000),
        ),
      ]);
      const done = await Promise.all(
        created.map((run, i) => fresh[i]!.client.waitForRun(fresh[i]!.org, fresh[i]!.env, run.id)),
      );
      expect(done.map((run) => run.status)).toEqual(Array(12).fill('completed'));
    } finally {
      await Promise.all(fresh.map((e) => e.close()));
    }
  }, 150_000);

  it('cancels a running run, which ends canceled with nothing more written', async () => {
    const run = await s.client.createRun(
      s.org,
      s.env,
      runRequest(s, { options: { pageSize: 20, pagesPerExecution: 50 } }),
    );
    await waitFor('the first page', () => s.destination.records.size > 0 || undefined, 60_000);
    const answer = await s.client.cancelRun(s.org, s.env, run.id);
    expect(answer.id).toBe(run.id);
    const done = await s.client.waitForRun(s.org, s.env, run.id, { timeoutMs: 60_000 });
    expect(done.status).toBe('canceled');
    const written = s.destination.records.size;
    expect(written).toBeLessThan(2000);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(s.destination.records.size).toBe(written);
  });

  it('lists the runs of the environment only, newest first', async () => {
    const runs = await s.client.listRuns(s.org, s.env);
    expect(runs.length).toBeGreaterThanOrEqual(1);
    expect(runs.every((run) => run.namespace === s.environment.namespace)).toBe(true);
    expect(await other.client.listRuns(other.org, other.env)).toEqual([]);
  });

  it("answers 404 for a run read through another environment's path", async () => {
    const [run] = await s.client.listRuns(s.org, s.env);
    const answer = await rawRequest(
      'GET',
      `/v1/organizations/${other.org}/environments/${other.env}/runs/${run!.id}`,
      { key: other.envKey },
    );
    expect(answer).toMatchObject({ status: 404, body: { type: 'https://tavio.dev/problems/not-found' } });
  });
});
