import { benchPlatform, percentile } from './support.js';

/**
 * Latency of listing runs. Method: one environment with RUNS runs (default 1000), started through
 * the API with no region host running, so that every run stays running (the case in which a list
 * has the most to refresh); then LISTS list calls of 200 runs (the largest page) one after another.
 * Prints p50 and p95 and a JSON line; asserts nothing. Usage: tsx bench/run-list.ts [runs] [lists].
 */
const RUNS = Number(process.argv[2] ?? 1000);
const LISTS = Number(process.argv[3] ?? 20);
const say = (line: string) => process.stderr.write(`${line}\n`);

const bench = await benchPlatform({ regions: [], employees: 5 });
const { org, client } = bench;
try {
  await client.createEnvironment(org, 'bench', 'us');
  const [src, dst] = await bench.connect('bench');
  say(`starting ${RUNS} runs (no worker serves them, so they stay running)...`);
  for (let i = 0; i < RUNS; i++) {
    await client.createRun(org, 'bench', {
      integration: 'hris-employee-sync',
      connections: { source: src.id, destination: dst.id },
      options: { pageSize: 5 },
      idempotencyKey: `list-${i}`,
    });
    if ((i + 1) % 200 === 0) say(`  ${i + 1} / ${RUNS}`);
  }
  const times: number[] = [];
  for (let i = 0; i < LISTS + 2; i++) {
    const started = process.hrtime.bigint();
    const listed = await client.listRuns(org, 'bench', 200);
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    if (listed.length !== Math.min(200, RUNS)) throw new Error(`listed ${listed.length} runs`);
    if (i >= 2) times.push(ms);
  }
  const figures = { p50: Math.round(percentile(times, 0.5)), p95: Math.round(percentile(times, 0.95)) };
  console.log(`list of 200 of ${RUNS} running runs: p50 ${figures.p50} ms, p95 ${figures.p95} ms`);
  console.log(JSON.stringify({ bench: 'run-list', runs: RUNS, lists: LISTS, ...figures }));
  await client.retireEnvironment(org, 'bench');
} finally {
  await bench.close();
}
