import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Client, Connection } from '@temporalio/client';
import type { WorkflowHandle } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { temporalConnectOptionsWithToken } from '../common/temporal-connection.js';
import { stackTemporalConnection } from '../scripts/stack/temporal.js';
import { environmentWorkerPid, waitFor } from '../scripts/processes.js';
import { benchPlatform, percentile } from './support.js';

/**
 * P2, run start latency against a bare Temporal start, in one run. Method: RUNS runs (default 50)
 * one after another, each timed from just before its start call until its first activity task was
 * started, as the run's own history records it (ActivityTaskStarted), on one machine's clock.
 * - Tavio: `POST .../runs` of hris-employee-sync (one page of 5 employees) through the control API,
 *   served by the region host's environment worker.
 * - bare: `client.workflow.start` of a trivial workflow with one activity, served by a bare worker
 *   in the same namespace on a queue of its own, on the same Temporal server.
 * Warm runs follow each other within the host's idle period, so the environment's worker stays up.
 * - Tavio, cold: COLD runs (default 10), each started once the environment's worker has stopped for
 *   lack of work (the hosts' idle period is IDLE_MS here), so the host starts it for the run.
 * Prints p50 and p95 of each, their ratio, what a cold worker adds, and a JSON line; asserts nothing.
 * Usage: tsx bench/start-latency.ts [runs] [cold runs].
 */
const RUNS = Number(process.argv[2] ?? 50);
const COLD = Number(process.argv[3] ?? 10);
const IDLE_MS = 3_000;
const say = (line: string) => process.stderr.write(`${line}\n`);

/** Milliseconds from `startedAt` to the first ActivityTaskStarted of the workflow's first execution. */
async function toFirstActivity(handle: WorkflowHandle, startedAt: number): Promise<number> {
  const history = await handle.fetchHistory();
  const event = history.events?.find((e) => e.activityTaskStartedEventAttributes);
  if (!event?.eventTime) throw new Error(`${handle.workflowId} started no activity`);
  const at = Number(event.eventTime.seconds) * 1000 + Math.floor((event.eventTime.nanos ?? 0) / 1e6);
  return at - startedAt;
}

const bench = await benchPlatform({
  regions: ['us'],
  employees: 5,
  hostEnv: { TAVIO_WORKER_IDLE_MS: String(IDLE_MS) },
});
const { stack, platform, org, client: tavio } = bench;
try {
  const environment = await tavio.createEnvironment(org, 'bench', 'us');
  const [src, dst] = await bench.connect('bench');
  const { token: temporalToken } = await platform.operator.createTemporalToken(org, {
    environment: 'bench',
    role: 'admin',
    ttlSeconds: 600,
  });
  const options = temporalConnectOptionsWithToken(
    stackTemporalConnection(stack.temporalAddress),
    temporalToken,
  );
  const connection = await Connection.connect(options);
  const client = new Client({ connection, namespace: environment.namespace });
  const worker = await Worker.create({
    connection: await NativeConnection.connect(options),
    namespace: environment.namespace,
    taskQueue: 'p2-bare',
    workflowsPath: fileURLToPath(new URL('./start-latency/workflows.ts', import.meta.url)),
    activities: { touch: async () => undefined },
  });
  const running = worker.run();
  /** A Tavio run, timed from its create call to its first activity. */
  async function tavioRun(idempotencyKey: string): Promise<number> {
    const started = Date.now();
    const run = await tavio.createRun(org, 'bench', {
      integration: 'hris-employee-sync',
      connections: { source: src.id, destination: dst.id },
      options: { pageSize: 5 },
      idempotencyKey,
    });
    await tavio.waitForRun(org, 'bench', run.id, { timeoutMs: 60_000, intervalMs: 50 });
    return toFirstActivity(client.workflow.getHandle(run.workflowId), started);
  }
  const times = { tavio: [] as number[], bare: [] as number[], cold: [] as number[] };
  say(`${COLD} runs with a cold worker...`);
  for (let i = 0; i < COLD; i++) {
    await waitFor(
      'the idle worker to stop',
      () => (environmentWorkerPid(environment.namespace) === undefined ? true : undefined),
      IDLE_MS + 30_000,
    );
    times.cold.push(await tavioRun(`p2-cold-${i}`));
  }
  say(`warming up, then ${RUNS} runs each way, alternating...`);
  for (let i = -2; i < RUNS; i++) {
    const tavioMs = await tavioRun(`p2-${i}`);
    const started = Date.now();
    const bare = await client.workflow.start('bare', {
      taskQueue: 'p2-bare',
      workflowId: `p2-bare-${i}-${randomBytes(3).toString('hex')}`,
    });
    await bare.result();
    const bareMs = await toFirstActivity(bare, started);
    if (i < 0) continue;
    times.tavio.push(tavioMs);
    times.bare.push(bareMs);
    if ((i + 1) % 10 === 0) say(`  ${i + 1} / ${RUNS}`);
  }
  worker.shutdown();
  await running;
  await connection.close();
  const figures = {
    tavio: { p50: percentile(times.tavio, 0.5), p95: percentile(times.tavio, 0.95) },
    bare: { p50: percentile(times.bare, 0.5), p95: percentile(times.bare, 0.95) },
    cold: { p50: percentile(times.cold, 0.5), p95: percentile(times.cold, 0.95) },
  };
  console.log('start -> first activity    p50 ms   p95 ms');
  console.log(
    `bare Temporal start        ${String(figures.bare.p50).padStart(6)}   ${String(figures.bare.p95).padStart(6)}`,
  );
  console.log(
    `Tavio run (control API)    ${String(figures.tavio.p50).padStart(6)}   ${String(figures.tavio.p95).padStart(6)}`,
  );
  console.log(
    `Tavio run, cold worker     ${String(figures.cold.p50).padStart(6)}   ${String(figures.cold.p95).padStart(6)}`,
  );
  console.log(`Tavio / bare, p50          ${(figures.tavio.p50 / figures.bare.p50).toFixed(2)}x`);
  console.log(`cold worker adds, p50      ${figures.cold.p50 - figures.tavio.p50} ms`);
  console.log(
    JSON.stringify({
      bench: 'P2 start-latency',
      runs: RUNS,
      coldRuns: COLD,
      ...figures,
      ratioP50: figures.tavio.p50 / figures.bare.p50,
      coldAddsP50Ms: figures.cold.p50 - figures.tavio.p50,
    }),
  );
  await tavio.retireEnvironment(org, 'bench');
} finally {
  await bench.close();
}
