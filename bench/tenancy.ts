import { readFileSync, readdirSync } from 'node:fs';
import { regionHostPid, rssMiB, waitFor } from '../scripts/processes.js';
import { benchPlatform, percentile } from './support.js';

/**
 * P4, tenancy: what a region host costs with ENVIRONMENTS provisioned environments (default 200) of
 * which ACTIVE (default a tenth) run at once. Method, in region us with one region host:
 * - the host's RSS just after it started (it has built the worker and the workflow bundle);
 * - ENVIRONMENTS environments created one after another, each create call timed (provisioning);
 * - after a pause, the host's RSS and its worker processes (idle): idle cost per environment, at
 *   most = (host RSS + workers' RSS) / ENVIRONMENTS, counting the whole host against them;
 * - ACTIVE runs of EMPLOYEES employees started at once, each timed from its create call until it
 *   completed; meanwhile, sampled every second, the workers' summed RSS (peak), the largest
 *   worker's RSS, and the CPU time the host and its workers used (from /proc), in seconds of CPU per
 *   second of wall clock;
 * - then, after the hosts' idle period (IDLE_MS here), the worker processes left.
 * Prints a table and a JSON line; asserts nothing. Usage: tsx bench/tenancy.ts [environments] [active].
 */
const ENVIRONMENTS = Number(process.argv[2] ?? 200);
const ACTIVE = Number(process.argv[3] ?? Math.max(1, Math.floor(ENVIRONMENTS / 10)));
const EMPLOYEES = 2000;
const IDLE_MS = 10_000;
const say = (line: string) => process.stderr.write(`${line}\n`);
const TICKS_PER_SECOND = 100;

/** User and system CPU time of a process, in seconds (0 once it is gone). */
function cpuSeconds(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
  } catch {
    return 0;
  }
}

/** A region host's environment workers: its children that run the compiled worker. */
function childrenOf(pid: number): number[] {
  const children: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const parent = Number(readFileSync(`/proc/${entry}/stat`, 'utf8').split(') ')[1]!.split(' ')[1]);
      const worker = readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes('environment-worker');
      if (parent === pid && worker) children.push(Number(entry));
    } catch {
      // The process ended while being read.
    }
  }
  return children;
}

const rssOrZero = (pid: number) => {
  try {
    return rssMiB(pid);
  } catch {
    return 0;
  }
};

const bench = await benchPlatform({
  regions: ['us'],
  employees: EMPLOYEES,
  hostEnv: { TAVIO_WORKER_IDLE_MS: String(IDLE_MS) },
});
const { org, client, platform } = bench;
try {
  const host = await waitFor('the us region host', () => regionHostPid('us', platform.api.url), 30_000);
  await new Promise((resolve) => setTimeout(resolve, 3_000));
  const emptyHostMiB = rssMiB(host);
  const provisionMs: number[] = [];
  const connections: Awaited<ReturnType<typeof bench.connect>>[] = [];
  say(`provisioning ${ENVIRONMENTS} environments...`);
  for (let i = 0; i < ENVIRONMENTS; i++) {
    const started = Date.now();
    await client.createEnvironment(org, `env-${i}`, 'us');
    provisionMs.push(Date.now() - started);
    connections.push(await bench.connect(`env-${i}`));
    if ((i + 1) % 20 === 0) say(`  ${i + 1} / ${ENVIRONMENTS}`);
  }
  await new Promise((resolve) => setTimeout(resolve, 10_000));
  const idleWorkers = childrenOf(host);
  const idleHostMiB = rssMiB(host);
  const idleWorkersMiB = idleWorkers.reduce((sum, pid) => sum + rssOrZero(pid), 0);

  say(`running ${ACTIVE} of them at once, ${EMPLOYEES} employees each...`);
  /** Highest CPU time seen per process: a worker that stopped keeps what it used. */
  const cpuSeen = new Map<number, number>();
  const cpuBefore = new Map([[host, cpuSeconds(host)]]);
  let peakWorkersMiB = 0;
  let peakWorkerMiB = 0;
  let peakWorkers = 0;
  const sample = () => {
    const workers = childrenOf(host);
    const rss = workers.map(rssOrZero);
    peakWorkers = Math.max(peakWorkers, workers.length);
    peakWorkersMiB = Math.max(
      peakWorkersMiB,
      rss.reduce((a, b) => a + b, 0),
    );
    peakWorkerMiB = Math.max(peakWorkerMiB, ...rss);
    for (const pid of [host, ...workers]) cpuSeen.set(pid, Math.max(cpuSeen.get(pid) ?? 0, cpuSeconds(pid)));
  };
  const sampler = setInterval(sample, 1000);
  const started = Date.now();
  const servedMs = await Promise.all(
    connections.slice(0, ACTIVE).map(async ([src, dst], i) => {
      const run = await client.createRun(org, `env-${i}`, {
        integration: 'hris-employee-sync',
        connections: { source: src.id, destination: dst.id },
        options: { pageSize: 100 },
        idempotencyKey: 'tenancy',
      });
      const done = await client.waitForRun(org, `env-${i}`, run.id, { timeoutMs: 600_000, intervalMs: 250 });
      if (done.status !== 'completed') throw new Error(`run in env-${i} ended ${done.status}`);
      return Date.now() - started;
    }),
  );
  sample();
  clearInterval(sampler);
  const wallSeconds = (Date.now() - started) / 1000;
  const cpu = [...cpuSeen].reduce((sum, [pid, seen]) => sum + seen - (cpuBefore.get(pid) ?? 0), 0);
  say(`waiting for the workers to stop after ${IDLE_MS} ms without work...`);
  await waitFor(
    'the idle workers to stop',
    () => childrenOf(host).length === 0 || undefined,
    IDLE_MS + 60_000,
  );
  const figures = {
    environments: ENVIRONMENTS,
    active: ACTIVE,
    provisionP50Ms: percentile(provisionMs, 0.5),
    emptyHostMiB,
    idleHostMiB,
    idleWorkers: idleWorkers.length,
    idleWorkersMiB,
    idlePerEnvironmentKiBAtMost: Math.round(((idleHostMiB + idleWorkersMiB) * 1024) / ENVIRONMENTS),
    peakWorkers,
    peakWorkersMiB,
    peakWorkerMiB,
    runsDoneP50Ms: percentile(servedMs, 0.5),
    cpuPerWallSecond: Number((cpu / wallSeconds).toFixed(2)),
    runsWallSeconds: Number(wallSeconds.toFixed(1)),
    workersAfterIdle: childrenOf(host).length,
  };
  console.log(`environments / running at once            ${ENVIRONMENTS} / ${ACTIVE}`);
  console.log(`provisioning (p50)                        ${figures.provisionP50Ms} ms`);
  console.log(`host RSS, just started / all idle         ${emptyHostMiB} / ${idleHostMiB} MiB`);
  console.log(`worker processes while idle               ${idleWorkers.length} (${idleWorkersMiB} MiB)`);
  console.log(`idle cost per environment, at most        ${figures.idlePerEnvironmentKiBAtMost} KiB`);
  console.log(`workers at peak: processes / summed RSS   ${peakWorkers} / ${peakWorkersMiB} MiB`);
  console.log(`largest worker RSS                        ${peakWorkerMiB} MiB`);
  console.log(`run created -> completed (p50)            ${figures.runsDoneP50Ms} ms`);
  console.log(
    `CPU, host and workers, during runs        ${figures.cpuPerWallSecond} s per s (${figures.runsWallSeconds} s)`,
  );
  console.log(`worker processes after the idle period    ${figures.workersAfterIdle}`);
  console.log(JSON.stringify({ bench: 'P4 tenancy', ...figures }));
} finally {
  say('retiring the environments...');
  const names = Array.from({ length: ENVIRONMENTS }, (_, i) => `env-${i}`);
  await Promise.all(
    Array.from({ length: 6 }, async () => {
      for (let name = names.shift(); name; name = names.shift())
        await client.retireEnvironment(org, name).catch(() => undefined);
    }),
  );
  await bench.close();
}
