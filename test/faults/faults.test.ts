import { mkdirSync, writeFileSync } from 'node:fs';
import { isDeepStrictEqual } from 'node:util';
import { afterAll, describe, expect, inject, it } from 'vitest';
import type { Run } from '../../control-api/client.js';
import { summaryOf } from '../../control-api/client.js';
import { mapEmployee } from '../../integrations/hris-employee-sync/mapping.js';
import { startRegionHost } from '../../scripts/platform.js';
import type { RegionHostProcess } from '../../scripts/platform.js';
import { environmentWorkerPid, waitFor } from '../../scripts/processes.js';
import { stackPaths } from '../../scripts/stack/config.js';
import { stopGateway } from '../../scripts/stack/gateways.js';
import { stopPostgres } from '../../scripts/stack/postgres.js';
import { stackUp } from '../../scripts/stack/services.js';
import { stopTemporal } from '../../scripts/stack/temporal.js';
import type { DestinationFault } from '../../fixtures/upsert-destination.js';
import type { EnvScenario } from '../support/scenario.js';
import { newEnvironment, operatorClient, rawRequest, runRequest } from '../support/scenario.js';

/**
 * Real syncs while a part of the platform fails under them. After each fault the run completes
 * with every valid source record written, and the destination holds each record once, with the
 * right content: a repeated upsert of the same content is allowed, a lost or divergent record not.
 * Each fault's figures go to `.stack/fault-figures.json`.
 */

const EMPLOYEES = 400;
const RUN_OPTIONS = { pageSize: 25, pagesPerExecution: 5 };
const quiet = () => undefined;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Figures {
  fault: string;
  /** From the fault's start until the failed part answers again. */
  outageMs: number;
  /** From the part's return until the next record reached the destination. */
  resumedAfterMs: number;
  /** From the fault's start until the run completed. */
  completedAfterMs: number;
  recordsWritten: number;
  repeatedWrites: number;
  lost: number;
  divergent: number;
}
const figures: Figures[] = [];
const restartedHosts: RegionHostProcess[] = [];

/** What the destination must hold afterwards: each valid source record, mapped. */
function expectedRecords(s: EnvScenario): Map<string, unknown> {
  const expected = new Map<string, unknown>();
  for (const employee of s.source.employees) {
    const mapped = mapEmployee(employee);
    if (mapped) expected.set(employee.employee_id, JSON.parse(JSON.stringify(mapped)) as unknown);
  }
  return expected;
}

/**
 * Starts a sync, waits until it has written a few pages, runs `fault` (which answers when the failed
 * part is back), and checks the outcome record by record.
 */
async function syncThrough(
  fault: string,
  region: 'us' | 'ca' | 'eu',
  injure: (s: EnvScenario, run: Run) => Promise<void>,
  destinationFault?: (batch: number) => DestinationFault | undefined,
): Promise<Figures> {
  const s = await newEnvironment(region, {
    employees: EMPLOYEES,
    rateLimitEvery: 0,
    destination: { delayMs: 100, fault: destinationFault },
  });
  try {
    const run = await s.client.createRun(s.org, s.env, runRequest(s, { options: RUN_OPTIONS }));
    await waitFor(
      'the first pages at the destination',
      () => s.destination.writes.size >= 50 || undefined,
      60_000,
    );
    const started = Date.now();
    await injure(s, run);
    const restored = Date.now();
    const writesAtReturn = [...s.destination.writes.values()].reduce((a, b) => a + b, 0);
    const resumed = waitFor(
      'a record written after the fault',
      () =>
        [...s.destination.writes.values()].reduce((a, b) => a + b, 0) > writesAtReturn
          ? Date.now()
          : undefined,
      240_000,
    );
    const done = await s.client.waitForRun(s.org, s.env, run.id, { timeoutMs: 240_000 });
    const completed = Date.now();
    const expected = expectedRecords(s);
    const lost = [...expected.keys()].filter((id) => !s.destination.records.has(id));
    const wrong = [...expected].filter(
      ([id, record]) => !isDeepStrictEqual(s.destination.records.get(id), record),
    );
    expect(done.status).toBe('completed');
    expect(summaryOf(done, 'hris-employee-sync')?.recordsWritten).toBe(expected.size);
    expect(lost).toEqual([]);
    expect(wrong.map(([id]) => id)).toEqual([]);
    expect(s.destination.divergent.size).toBe(0);
    expect(s.destination.records.size).toBe(expected.size);
    const result: Figures = {
      fault,
      outageMs: restored - started,
      resumedAfterMs: (await resumed.catch(() => completed)) - restored,
      completedAfterMs: completed - started,
      recordsWritten: expected.size,
      repeatedWrites: [...s.destination.writes.values()].reduce((sum, n) => sum + n - 1, 0),
      lost: lost.length,
      divergent: s.destination.divergent.size,
    };
    figures.push(result);
    return result;
  } finally {
    await s.close();
  }
}

describe('syncs under faults', () => {
  afterAll(async () => {
    await Promise.all(restartedHosts.map((host) => host.stop()));
    mkdirSync('.stack', { recursive: true });
    writeFileSync('.stack/fault-figures.json', `${JSON.stringify(figures, null, 2)}\n`);
    console.table(figures);
  });

  it('the environment worker killed in the middle of a page', async () => {
    await syncThrough('environment worker SIGKILL', 'us', async (s) => {
      const pid = environmentWorkerPid(s.environment.namespace);
      expect(pid).toBeDefined();
      process.kill(pid!, 'SIGKILL');
      await waitFor('a new worker', () => {
        const next = environmentWorkerPid(s.environment.namespace);
        return next !== undefined && next !== pid ? true : undefined;
      });
    });
  });

  it('the destination answering 500s, then a storm of 429s', async () => {
    // Armed once the first pages are in: 2 batches answered 500, then 10 answered 429.
    let armedAt: number | undefined;
    let lastBatch = 0;
    const storm = (batch: number): DestinationFault | undefined => {
      if (armedAt === undefined) {
        lastBatch = batch;
        return undefined;
      }
      const n = batch - armedAt;
      if (n < 0) return undefined;
      if (n < 2) return { status: 500 };
      return n < 12 ? { status: 429, retryAfterSeconds: 1 } : undefined;
    };
    await syncThrough(
      'destination 500s then 429 storm',
      'us',
      async (s) => {
        armedAt = lastBatch + 1;
        await waitFor('the storm to pass', () => s.destination.faulted >= 12 || undefined, 120_000);
      },
      storm,
    );
  });

  it('the S3/KMS service answering 503 for a while', async () => {
    const storage = inject('storageFaultUrl');
    const fault = async (ms: number) => {
      const answer = await fetch(`${storage}/_fault?status=503&ms=${ms}`, { method: 'POST' });
      return ((await answer.json()) as { failed: number }).failed;
    };
    let failed = 0;
    await syncThrough('S3/KMS 503s', 'us', async () => {
      const before = await fault(8_000);
      await sleep(8_000);
      failed = (await fault(0)) - before;
    });
    // The platform did call the service while it failed (credentials, run logs), and got through.
    expect(failed).toBeGreaterThan(0);
  });

  it('the region gateway restarted', async () => {
    await syncThrough('gateway restart', 'us', async () => {
      const paths = stackPaths();
      await stopGateway(paths, 'us1', quiet);
      await sleep(2_000);
      await stackUp({ quiet: true });
    });
  });

  it('the Temporal server restarted, its database kept', async () => {
    await syncThrough('Temporal restart', 'us', async () => {
      await stopTemporal(stackPaths(), quiet);
      await stackUp({ quiet: true });
    });
  });

  it('PostgreSQL restarted: the control API answers 503 meanwhile, and recovers by itself', async () => {
    await syncThrough('PostgreSQL restart', 'us', async (s) => {
      await stopPostgres(stackPaths(), quiet);
      const down = await rawRequest('GET', `/v1/organizations/${s.org}`, { key: s.adminKey });
      expect(down).toMatchObject({
        status: 503,
        contentType: expect.stringMatching(/^application\/problem\+json/),
        body: { type: 'https://tavio.dev/problems/database-unavailable', status: 503 },
      });
      await stackUp({ quiet: true });
      await waitFor('the control API to answer again', async () => {
        const answer = await rawRequest('GET', `/v1/organizations/${s.org}`, { key: s.adminKey });
        return answer.status === 200 || undefined;
      });
    });
  });

  it('the region host killed, and started again', async () => {
    const pid = inject('hostPids').ca;
    expect(pid).toBeGreaterThan(0);
    const hostKey = await operatorClient().createHostKey('ca');
    await syncThrough('region host SIGKILL', 'ca', async () => {
      process.kill(pid!, 'SIGKILL');
      await sleep(2_000);
      restartedHosts.push(startRegionHost(inject('stack'), inject('controlApiUrl'), 'ca', hostKey.key));
    });
  });
});
