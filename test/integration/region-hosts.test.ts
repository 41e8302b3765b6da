import { afterAll, describe, expect, it } from 'vitest';
import { summaryOf } from '../../control-api/client.js';
import type { EnvScenario } from '../support/scenario.js';
import { histories, newEnvironment, runRequest } from '../support/scenario.js';
import { testDatabase } from '../support/database.js';
import { environmentWorkerPid, processEnv, processExited, waitFor } from '../../scripts/processes.js';

function activityIdentities(all: Awaited<ReturnType<typeof histories>>): Set<string> {
  const identities = new Set<string>();
  for (const history of all) {
    for (const event of history.events ?? []) {
      const identity = event.activityTaskStartedEventAttributes?.identity;
      if (identity) identities.add(identity.replace(/\/\d+$/, ''));
    }
  }
  return identities;
}

describe('region worker hosts', () => {
  const database = testDatabase();
  const opened: EnvScenario[] = [];
  afterAll(async () => {
    await Promise.all(opened.map((s) => s.close()));
    await database.close();
  });

  it('gives a new environment in a third region its own worker, which completes a run, with nothing restarted', async () => {
    const s = await newEnvironment('ca', { employees: 120 });
    opened.push(s);
    const namespace = s.environment.namespace;
    // An environment without work has no worker; its first run brings one up.
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    expect(environmentWorkerPid(namespace)).toBeUndefined();
    const run = await s.client.createRun(s.org, s.env, runRequest(s));
    const pid = await waitFor('the ca environment worker', () => environmentWorkerPid(namespace), 20_000);
    const env = processEnv(pid);
    // The worker holds its own environment's settings and credentials, not the host's key.
    expect(env.TAVIO_HOST_KEY).toBeUndefined();
    expect(JSON.parse(env.TAVIO_ENVIRONMENT_WORKER!)).toMatchObject({
      namespace,
      taskQueue: 'ca1',
      region: 'ca',
      bucket: s.environment.bucket,
    });
    const done = await s.client.waitForRun(s.org, s.env, run.id);
    expect(done).toMatchObject({ status: 'completed', taskQueue: 'ca1', summary: { recordsRead: 120 } });
    expect([...activityIdentities(await histories(namespace, run.workflowId))]).toEqual([
      `ca-host/${namespace}`,
    ]);
  });

  it('finishes a run whose environment worker is killed in the middle of it', async () => {
    const s = await newEnvironment('us', { employees: 600, rateLimitEvery: 4 });
    opened.push(s);
    const namespace = s.environment.namespace;
    const run = await s.client.createRun(
      s.org,
      s.env,
      runRequest(s, { options: { pageSize: 25, pagesPerExecution: 20 } }),
    );
    await waitFor('the first pages to land', () => s.destination.records.size >= 100 || undefined, 60_000);
    const before = await waitFor('the environment worker', () => environmentWorkerPid(namespace), 60_000);
    process.kill(before, 'SIGKILL');
    const done = await s.client.waitForRun(s.org, s.env, run.id, { timeoutMs: 150_000 });
    expect(done.status).toBe('completed');
    expect(summaryOf(done, 'hris-employee-sync')?.recordsRead).toBe(600);
    const after = environmentWorkerPid(namespace);
    expect(after).toBeDefined();
    expect(after).not.toBe(before);
  });

  it('stops the worker of an environment that is no longer active', async () => {
    const s = await newEnvironment('eu', { employees: 10 });
    opened.push(s);
    const namespace = s.environment.namespace;
    await s.client.createRun(s.org, s.env, runRequest(s));
    const pid = await waitFor('the environment worker', () => environmentWorkerPid(namespace), 20_000);
    await database.db.execute(
      `update environments set status = 'failed', status_reason = 'test' where id = '${s.environment.id}'`,
    );
    await waitFor(
      'the worker to stop',
      () => (environmentWorkerPid(namespace) === undefined ? true : undefined),
      30_000,
    );
    await waitFor('the worker process to exit', () => processExited(pid) || undefined, 15_000);
    expect(processExited(pid)).toBe(true);
  });
});
