import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Run } from '../../control-api/client.js';
import { waitFor } from '../../scripts/processes.js';
import { TEST_API_METRICS_PORT, TEST_HOST_METRICS_PORTS } from '../support/metrics-ports.js';
import type { EnvScenario } from '../support/scenario.js';
import { newEnvironment, rawRequest, runRequest } from '../support/scenario.js';

const API_METRICS = `http://127.0.0.1:${TEST_API_METRICS_PORT}/metrics`;
const HOST_METRICS = `http://127.0.0.1:${TEST_HOST_METRICS_PORTS.us}/metrics`;

async function scrape(url: string): Promise<string> {
  const response = await fetch(url);
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return response.text();
}

/** The sum of the samples of `name` whose labels include every one of `labels`. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const present = match[2] ?? '';
    if (Object.entries(labels).every(([key, value]) => present.split(',').includes(`${key}="${value}"`)))
      sum += Number(match[3]);
  }
  return sum;
}

describe('Prometheus metrics', () => {
  let s: EnvScenario;
  let run: Run;
  let apiBefore: string;
  let apiAfter: string;
  const ENV_ROUTE = '/v1/organizations/:org/environments/:env';
  const RUNS_ROUTE = '/v1/organizations/:org/environments/:env/runs';

  beforeAll(async () => {
    s = await newEnvironment('us', { employees: 40 });
    apiBefore = await scrape(API_METRICS);
    const missing = await rawRequest('GET', `/v1/organizations/${s.org}/environments/no-such-env`, {
      key: s.adminKey,
    });
    expect(missing.status).toBe(404);
    const invalid = await rawRequest('POST', `/v1/organizations/${s.org}/environments/${s.env}/runs`, {
      key: s.envKey,
      body: JSON.stringify({ integration: 42 }),
    });
    expect(invalid.status).toBe(400);
    const started = await s.client.createRun(s.org, s.env, runRequest(s));
    run = await s.client.waitForRun(s.org, s.env, started.id);
    expect(run.status).toBe('completed');
    apiAfter = await scrape(API_METRICS);
  });
  afterAll(async () => {
    await s?.close();
  });

  it('counts the API requests by method, route pattern and status, and their latencies', () => {
    const delta = (name: string, labels: Record<string, string>) =>
      sample(apiAfter, name, labels) - sample(apiBefore, name, labels);
    expect(delta('tavio_http_requests_total', { method: 'GET', route: ENV_ROUTE, status: '404' })).toBe(1);
    expect(delta('tavio_http_requests_total', { method: 'POST', route: RUNS_ROUTE, status: '400' })).toBe(1);
    expect(delta('tavio_http_requests_total', { method: 'POST', route: RUNS_ROUTE, status: '201' })).toBe(1);
    expect(delta('tavio_http_request_duration_seconds_count', { method: 'POST', route: RUNS_ROUTE })).toBe(2);
    expect(delta('tavio_problems_total', { type: 'not-found' })).toBeGreaterThanOrEqual(1);
    expect(delta('tavio_problems_total', { type: 'validation-failed' })).toBe(1);
    // Node's process metrics come with them.
    expect(sample(apiAfter, 'process_resident_memory_bytes')).toBeGreaterThan(0);
  });

  it('labels routes by their pattern only: no slug, id or customer value is in the text', () => {
    const employees = s.source.employees.slice(0, 40);
    for (const forbidden of [
      s.org,
      s.env,
      run.id,
      run.workflowId,
      s.environment.namespace,
      s.sourceApiKey,
      s.envKey,
      ...employees.flatMap((e) => (e.work_email ? [e.work_email] : [])),
    ])
      expect(apiAfter).not.toContain(forbidden);
  });

  it('serves metrics on their own port: the API port does not answer /metrics', async () => {
    const response = await fetch(new URL('/metrics', inject('controlApiUrl')));
    expect(response.status).toBe(404);
  });

  it("shows the region host's workers, their credentials and their Temporal runtime metrics", async () => {
    const environment = `environment="${s.environment.id}"`;
    const host = await waitFor(
      'the worker runtime metrics on the us host',
      async () => {
        const text = await scrape(HOST_METRICS);
        return text.includes(environment) ? text : undefined;
      },
      15_000,
    );
    expect(sample(host, 'tavio_host_worker_starts_total', { region: 'us' })).toBeGreaterThanOrEqual(1);
    for (const kind of ['aws', 'temporal-token', 'payload-key', 'gateway'])
      expect(
        sample(host, 'tavio_host_credential_refreshes_total', { region: 'us', kind, outcome: 'success' }),
      ).toBeGreaterThanOrEqual(1);
    expect(host).toMatch(/^# TYPE tavio_host_workers gauge$/m);
    // The worker's runtime polled its task queue and completed the run's workflow tasks.
    const runtime = host
      .split('\n')
      .filter((line) => line.startsWith('temporal_') && line.includes(environment));
    expect(runtime.length).toBeGreaterThan(0);
    expect(runtime.some((line) => line.includes('task_queue="us1"'))).toBe(true);
    for (const forbidden of [s.org, s.env, run.id, run.workflowId, s.environment.namespace])
      expect(host).not.toContain(forbidden);
    for (const employee of s.source.employees.slice(0, 40))
      if (employee.work_email) expect(host).not.toContain(employee.work_email);
  });
});
