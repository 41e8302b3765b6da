import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stackUp } from '../../scripts/stack/services.js';
import { waitFor } from '../../scripts/processes.js';
import type { EnvScenario } from '../support/scenario.js';
import { newEnvironment, runRequest } from '../support/scenario.js';
import { gatewayMarks, gatewayRequests } from '../support/gateways.js';
import { systemConnection } from '../support/temporal.js';

const gatewayPid = () =>
  Number(readFileSync(join(process.cwd(), '.stack', 'pids', 'gateway-eu1.pid'), 'utf8').trim());
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe("a region's gateway down", () => {
  let s: EnvScenario;
  let connection: Connection;
  beforeAll(async () => {
    s = await newEnvironment('eu', { employees: 40, rateLimitEvery: 0 });
    connection = await systemConnection();
  });
  afterAll(async () => {
    await stackUp({ quiet: true });
    await connection.close();
    await s.close();
  });

  it('makes a run wait with the reason in its pending activity, never going around it, and finish once it is back', async () => {
    const marks = gatewayMarks();
    const pid = gatewayPid();
    process.kill(pid, 'SIGTERM');
    await waitFor('the eu1 gateway to stop', () => (alive(pid) ? undefined : true), 15_000);

    const run = await s.client.createRun(s.org, s.env, runRequest(s));
    // Described raw: the pending activity's failure is metadata, and this client holds no payload key.
    const describe = () =>
      connection.workflowService.describeWorkflowExecution({
        namespace: s.environment.namespace,
        execution: { workflowId: run.workflowId },
      });
    const reason = await waitFor(
      'a pending activity that names the gateway',
      async () => (await describe()).pendingActivities?.[0]?.lastFailure?.message ?? undefined,
      // The environment's worker may still be starting when the gateway goes down.
      90_000,
    );
    expect(reason).toMatch(
      /^gateway eu1 is unreachable \(ECONNREFUSED\); the request waits for it and is never sent directly$/,
    );
    expect((await s.client.getRun(s.org, s.env, run.id)).status).toBe('running');
    expect(s.source.requests).toBe(0);
    expect(s.destination.requests).toBe(0);

    await stackUp({ quiet: true });
    const done = await s.client.waitForRun(s.org, s.env, run.id, { timeoutMs: 90_000 });
    expect(done).toMatchObject({ status: 'completed', summary: { recordsRead: 40 } });
    expect(gatewayRequests('eu1', marks, new URL(s.source.url).origin, 'GET')).toBe(s.source.requests);
  });
});
