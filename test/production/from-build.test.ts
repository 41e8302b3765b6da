import { readdirSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { summaryOf } from '../../control-api/client.js';
import { processEnv, waitFor } from '../../scripts/processes.js';
import { TEST_API_METRICS_PORT, TEST_HOST_METRICS_PORTS } from '../support/metrics-ports.js';
import type { EnvScenario } from '../support/scenario.js';
import { newEnvironment, runRequest } from '../support/scenario.js';

const cmdline = (pid: number) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);

/** The command lines of the environment workers of a namespace. */
function workerCommands(namespace: string): string[][] {
  const commands: string[][] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const settings = processEnv(Number(entry)).TAVIO_ENVIRONMENT_WORKER;
      if (settings && (JSON.parse(settings) as { namespace: string }).namespace === namespace)
        commands.push(cmdline(Number(entry)));
    } catch {
      // The process ended while being read.
    }
  }
  return commands;
}

describe('the platform run from the build', () => {
  let s: EnvScenario;
  beforeAll(async () => {
    s = await newEnvironment('eu', { employees: 120 });
  });
  afterAll(async () => {
    await s?.close();
  });

  it('runs the control API and the region host on plain node from dist/, without tsx', () => {
    const api = cmdline(inject('apiPid'));
    const host = cmdline(inject('hostPids').eu!);
    expect(api.slice(1)).toEqual(['dist/control-api/server.js']);
    expect(host.slice(1)).toEqual([expect.stringMatching(/\/dist\/workers\/region-host\.js$/)]);
    for (const command of [api, host]) expect(command.join(' ')).not.toMatch(/tsx/);
  });

  it('answers /healthz and /readyz, naming its dependencies', async () => {
    const url = inject('controlApiUrl');
    const health = await fetch(`${url}/healthz`);
    expect(health.status).toBe(200);
    const ready = await fetch(`${url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready', checks: { database: 'ok', temporal: 'ok' } });
  });

  it("serves the region host's liveness, readiness and metrics on its own listener", async () => {
    const host = `http://127.0.0.1:${TEST_HOST_METRICS_PORTS.eu}`;
    expect(await (await fetch(`${host}/healthz`)).json()).toEqual({ status: 'ok' });
    const ready = await waitFor('the region host to be ready', async () => {
      const response = await fetch(`${host}/readyz`);
      return response.status === 200 ? ((await response.json()) as unknown) : undefined;
    });
    expect(ready).toEqual({ status: 'ready' });
    expect(await (await fetch(`${host}/metrics`)).text()).toMatch(/^tavio_host_workers\{region="eu"\} \d+$/m);
    const api = await (await fetch(`http://127.0.0.1:${TEST_API_METRICS_PORT}/metrics`)).text();
    expect(api).toMatch(/^tavio_http_requests_total\{[^}]*route="\/readyz"[^}]*\} \d+$/m);
  });

  it('runs a sync end to end on the environment worker and workflows the build compiled', async () => {
    const started = await s.client.createRun(s.org, s.env, runRequest(s));
    // Its environment's worker, started for it, runs the code the build wrote in dist/worker-code.
    const [worker] = await waitFor('the environment worker', () => {
      const found = workerCommands(s.environment.namespace);
      return found.length > 0 ? found : undefined;
    });
    expect(worker!.join(' ')).toMatch(/\/dist\/worker-code\/environment-worker\.mjs$/);
    const run = await s.client.waitForRun(s.org, s.env, started.id);
    expect(run.status).toBe('completed');
    const summary = summaryOf(run, 'hris-employee-sync')!;
    expect(summary.recordsRead).toBe(120);
    expect(summary.recordsWritten).toBeGreaterThan(100);
    expect(s.destination.records.size).toBe(summary.recordsWritten);
    expect(worker!.join(' ')).not.toMatch(/tsx/);
  });

  it('logs JSON lines carrying request ids and no API key', () => {
    const lines = readFileSync(inject('apiLogFile'), 'utf8').split('\n').filter(Boolean);
    const entries = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(entries.some((entry) => typeof entry.reqId === 'string' && entry.req !== undefined)).toBe(true);
    const text = lines.join('\n');
    expect(text).not.toContain(s.envKey);
    expect(text).not.toContain(s.adminKey);
    expect(text).not.toContain(inject('operatorKey'));
  });
});
