import { readFileSync, readdirSync } from 'node:fs';
import { environmentWorkerPid, regionHostPid, rssMiB, waitFor } from '../scripts/processes.js';
import { benchPlatform, percentile } from './support.js';

/**
 * P4, tenancy: what a region host costs with ENVIRONMENTS provisioned environments (default 20) of
 * which ACTIVE (default a quarter) run at once. Method: environments are created one after another
 * in region us, each timed (provisioning) and followed until its worker process exists; after a
 * pause, the host's and its workers' RSS (idle); then ACTIVE runs of 2,000 employees at once, with
 * the CPU time the host and its workers used meanwhile (from /proc, in seconds of CPU per second of
 * wall clock) and their RSS at the end. Idle cost per environment = idle RSS of all workers /
 * ENVIRONMENTS. Prints a table and a JSON line; asserts nothing.
 * Usage: tsx bench/tenancy.ts [environments] [active].
 */
const ENVIRONMENTS = Number(process.argv[2] ?? 20);
const ACTIVE = Number(process.argv[3] ?? Math.max(1, Math.floor(ENVIRONMENTS / 4)));
const say = (line: string) => process.stderr.write(`${line}\n`);
const TICKS_PER_SECOND = 100;

/** User and system CPU time of a process, in seconds. */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
}

/** Whether a pid still exists (the worker of a retired environment goes). */
const alive = (pid: number) => readdirSync('/proc').includes(String(pid));

const bench = await benchPlatform({ regions: ['us'], employees: 2000 });
const { org, client, platform } = bench;
try {
  const host = await waitFor('the us region host', () => regionHostPid('us', platform.api.url), 30_000);
  const provisionMs: number[] = [];
  const workers: number[] = [];
  const connections: Awaited<ReturnType<typeof bench.connect>>[] = [];
  say(`provisioning ${ENVIRONMENTS} environments...`);
  for (let i = 0; i < ENVIRONMENTS; i++) {
    const started = Date.now();
    await client.createEnvironment(org, `env-${i}`, 'us');
    provisionMs.push(Date.now() - started);
    connections.push(await bench.connect(`env-${i}`));
    workers.push(await waitFor('the worker', () => environmentWorkerPid(`${org}-env-${i}`), 120_000));
    if ((i + 1) % 10 === 0) say(`  ${i + 1} / ${ENVIRONMENTS}`);
  }
  await new Promise((resolve) => setTimeout(resolve, 10_000));
  const idleWorkersMiB = workers.reduce((sum, pid) => sum + rssMiB(pid), 0);
  const idleHostMiB = rssMiB(host);
  say(`running ${ACTIVE} of them at once...`);
  const everyone = [host, ...workers];
  const cpuBefore = everyone.map(cpuSeconds);
  const started = Date.now();
  const runs = await Promise.all(
    connections.slice(0, ACTIVE).map(([src, dst], i) =>
      client.createRun(org, `env-${i}`, {
        integration: 'hris-employee-sync',
        connections: { source: src.id, destination: dst.id },
        options: { pageSize: 100, pagesPerExecution: 25 },
        idempotencyKey: 'tenancy',
      }),
    ),
  );
  await Promise.all(
    runs.map((run, i) => client.waitForRun(org, `env-${i}`, run.id, { timeoutMs: 600_000, intervalMs: 250 })),
  );
  const wallSeconds = (Date.now() - started) / 1000;
  const cpu = everyone.reduce((sum, pid, i) => sum + (alive(pid) ? cpuSeconds(pid) - cpuBefore[i]! : 0), 0);
  const busyWorkersMiB = workers.reduce((sum, pid) => sum + (alive(pid) ? rssMiB(pid) : 0), 0);
  const figures = {
    environments: ENVIRONMENTS,
    active: ACTIVE,
    provisionP50Ms: percentile(provisionMs, 0.5),
    idleHostMiB,
    idleWorkersMiB,
    idlePerEnvironmentMiB: Math.round(idleWorkersMiB / ENVIRONMENTS),
    busyWorkersMiB,
    cpuPerWallSecond: Number((cpu / wallSeconds).toFixed(2)),
    runsWallSeconds: Number(wallSeconds.toFixed(1)),
  };
  console.log(`environments / running at once       ${ENVIRONMENTS} / ${ACTIVE}`);
  console.log(`provisioning (p50)                   ${figures.provisionP50Ms} ms`);
  console.log(`region host RSS (idle)               ${idleHostMiB} MiB`);
  console.log(`all workers RSS, idle / while busy   ${idleWorkersMiB} / ${busyWorkersMiB} MiB`);
  console.log(`idle cost per environment            ${figures.idlePerEnvironmentMiB} MiB`);
  console.log(
    `CPU, host and workers, during runs   ${figures.cpuPerWallSecond} s per s (${figures.runsWallSeconds} s)`,
  );
  console.log(JSON.stringify({ bench: 'P4 tenancy', ...figures }));
  for (let i = 0; i < ENVIRONMENTS; i++) await client.retireEnvironment(org, `env-${i}`);
} finally {
  await bench.close();
}
