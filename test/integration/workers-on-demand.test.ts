import { readFileSync } from 'node:fs';
import { Client } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { HrisSyncInput, HrisSyncSummary } from '../../integrations/hris-employee-sync/types.js';
import { proxyUserOf } from '../../common/gateway-identity.js';
import { guardedDataConverter } from '../../common/payload-guard.js';
import { SA } from '../../common/search-attributes.js';
import { environmentWorkerPid, processExited, waitFor } from '../../scripts/processes.js';
import { sandboxUserName } from '../../workers/sandbox-rules.js';
import type { EnvScenario } from '../support/scenario.js';
import { newEnvironment, runRequest } from '../support/scenario.js';
import { payloadCodecOf, systemConnection } from '../support/temporal.js';
import { TEST_WORKER_IDLE_MS } from '../support/worker-idle.js';

const asRoot = process.getuid?.() === 0;
const noWorker = (namespace: string) => (environmentWorkerPid(namespace) === undefined ? true : undefined);
const passwdOfGateway = () => readFileSync(inject('stack').gatewayFiles.us1.passwd, 'utf8');

describe('environment workers on demand', () => {
  let s: EnvScenario;
  let namespace: string;
  beforeAll(async () => {
    s = await newEnvironment('us', { employees: 40, rateLimitEvery: 0 });
    namespace = s.environment.namespace;
  });
  afterAll(() => s?.close());

  it('runs no worker for an environment without work, starts one for a run, and stops it once idle', async () => {
    // Several host passes go by: nothing is started for an environment that has no work.
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    expect(environmentWorkerPid(namespace)).toBeUndefined();
    expect(passwdOfGateway()).not.toContain(`${proxyUserOf(s.environment.id)}:`);

    const run = await s.client.createRun(s.org, s.env, runRequest(s));
    const pid = await waitFor('a worker for the run', () => environmentWorkerPid(namespace), 20_000);
    const done = await s.client.waitForRun(s.org, s.env, run.id, { timeoutMs: 60_000 });
    expect(done).toMatchObject({ status: 'completed', summary: { recordsRead: 40, recordsWritten: 40 } });
    // The worker outlives its run by the idle period, and no longer.
    expect(environmentWorkerPid(namespace)).toBe(pid);
    const stopped = Date.now();
    await waitFor('the idle worker to stop', () => noWorker(namespace), TEST_WORKER_IDLE_MS + 20_000);
    expect(Date.now() - stopped).toBeGreaterThan(TEST_WORKER_IDLE_MS / 2);
    expect(processExited(pid)).toBe(true);
    // What the worker was given went with it: its gateway credentials and its OS user.
    await waitFor(
      'its gateway credentials to be revoked',
      () => (passwdOfGateway().includes(`${proxyUserOf(s.environment.id)}:`) ? undefined : true),
      10_000,
    );
    if (asRoot)
      expect(readFileSync('/etc/passwd', 'utf8')).not.toContain(
        `${sandboxUserName('us1', s.environment.id)}:`,
      );

    // The next run wakes it again.
    const again = await s.client.createRun(s.org, s.env, runRequest(s));
    const next = await waitFor('a worker for the next run', () => environmentWorkerPid(namespace), 20_000);
    expect(next).not.toBe(pid);
    const doneAgain = await s.client.waitForRun(s.org, s.env, again.id, { timeoutMs: 60_000 });
    expect(doneAgain.status).toBe('completed');
  }, 120_000);

  it('wakes the worker for tasks no API call started: a backlog on the environment queue', async () => {
    await waitFor('no worker', () => noWorker(namespace), TEST_WORKER_IDLE_MS + 20_000);
    // Started behind Tavio's back, as a schedule or a timer would: no run row tells the host.
    const connection = await systemConnection();
    const { codec, close } = payloadCodecOf(namespace);
    try {
      const client = new Client({
        connection,
        namespace,
        dataConverter: guardedDataConverter(16 * 1024, codec),
      });
      const input: HrisSyncInput = {
        source: { id: s.sourceConnectionId, baseUrl: s.source.url },
        destination: { id: s.destinationConnectionId, baseUrl: s.destination.url },
        options: { pageSize: 20, pagesPerExecution: 5 },
      };
      const handle = await client.workflow.start('hrisEmployeeSync', {
        taskQueue: 'us1',
        workflowId: `backlog-${s.environment.id}`,
        args: [input],
        typedSearchAttributes: [
          { key: SA.organization, value: s.org },
          { key: SA.environment, value: s.env },
          { key: SA.region, value: 'us' },
          { key: SA.integration, value: 'hris-employee-sync' },
        ],
      });
      const summary = (await handle.result()) as HrisSyncSummary;
      expect(summary.recordsRead).toBe(40);
    } finally {
      await close();
      await connection.close();
    }
  }, 90_000);
});
