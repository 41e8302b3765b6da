import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EnvScenario } from '../support/scenario.js';
import { newEnvironment, rawRequest, runRequest } from '../support/scenario.js';
import { waitFor } from '../../scripts/processes.js';

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
    expect(runs.every((run) => run.namespace === `${s.org}-${s.env}`)).toBe(true);
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
