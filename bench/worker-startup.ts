import { environmentWorkerPid, rssMiB, waitFor } from '../scripts/processes.js';
import { benchPlatform, percentile } from './support.js';

/**
 * How long a new environment takes to be served, and what its worker costs. Method: ENVIRONMENTS
 * environments are created one after another in region us (one region host); for each, the time
 * to provision it (the create call), from then until its worker process exists, and until a first
 * run of one page (5 employees) has completed; then the worker's RSS once idle. Prints medians and
 * a JSON line; asserts nothing. Usage: tsx bench/worker-startup.ts [environments, default 5].
 */
const ENVIRONMENTS = Number(process.argv[2] ?? 5);
const say = (line: string) => process.stderr.write(`${line}\n`);

const bench = await benchPlatform({ regions: ['us'], employees: 5 });
const { org, client } = bench;
const figures = {
  provisionMs: [] as number[],
  processMs: [] as number[],
  firstRunMs: [] as number[],
  rssMiB: [] as number[],
};
try {
  for (let i = 0; i < ENVIRONMENTS; i++) {
    const env = `env-${i}`;
    const started = Date.now();
    const { namespace } = await client.createEnvironment(org, env, 'us');
    const active = Date.now();
    const [src, dst] = await bench.connect(env);
    const run = await client.createRun(org, env, {
      integration: 'hris-employee-sync',
      connections: { source: src.id, destination: dst.id },
      options: { pageSize: 5 },
      idempotencyKey: 'bench',
    });
    const pid = await waitFor('the worker', () => environmentWorkerPid(namespace), 60_000);
    const processUp = Date.now();
    const done = await client.waitForRun(org, env, run.id, { timeoutMs: 120_000, intervalMs: 50 });
    if (done.status !== 'completed') throw new Error(`run ended ${done.status}`);
    const served = Date.now();
    await new Promise((resolve) => setTimeout(resolve, 3000));
    figures.provisionMs.push(active - started);
    figures.processMs.push(processUp - active);
    figures.firstRunMs.push(served - active);
    figures.rssMiB.push(rssMiB(pid));
    say(
      `  environment ${i + 1}: provisioned ${active - started} ms, worker process +${processUp - active} ms, first run served +${served - active} ms, RSS ${rssMiB(pid)} MiB`,
    );
  }
  const medians = Object.fromEntries(Object.entries(figures).map(([k, v]) => [k, percentile(v, 0.5)]));
  console.log(`environments                          ${ENVIRONMENTS}`);
  console.log(`provisioning (p50)                    ${medians.provisionMs} ms`);
  console.log(`active -> worker process (p50)        ${medians.processMs} ms`);
  console.log(`active -> first run completed (p50)   ${medians.firstRunMs} ms`);
  console.log(`worker RSS after its first run (p50)  ${medians.rssMiB} MiB`);
  console.log(JSON.stringify({ bench: 'worker-startup', environments: ENVIRONMENTS, medians, figures }));
  for (let i = 0; i < ENVIRONMENTS; i++) await client.retireEnvironment(org, `env-${i}`);
} finally {
  await bench.close();
}
