import { randomBytes } from 'node:crypto';
import { createTavioClient } from '../control-api/client.js';
import { startHrisSource } from '../fixtures/hris-source.js';
import { startUpsertDestination } from '../fixtures/upsert-destination.js';
import { startPlatform } from '../scripts/platform.js';
import { stackUp } from '../scripts/stack/services.js';

/**
 * Latency of listing runs. Method: one environment with RUNS runs (default 1000), started through
 * the API with no region host running, so that every run stays running (the case in which a list
 * has the most to refresh); then LISTS list calls of 200 runs (the largest page) one after another.
 * Prints p50 and p95 and a JSON line; asserts nothing. Usage: tsx bench/run-list.ts [runs] [lists].
 */
const RUNS = Number(process.argv[2] ?? 1000);
const LISTS = Number(process.argv[3] ?? 20);
const say = (line: string) => process.stderr.write(`${line}\n`);
const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
};

const stack = await stackUp({ quiet: true });
const platform = await startPlatform(stack, { regions: [] });
const sourceKey = randomBytes(16).toString('hex');
const token = randomBytes(16).toString('hex');
const source = await startHrisSource({ apiKey: sourceKey, employees: 5 });
const destination = await startUpsertDestination({ token });
try {
  const org = `bench-${randomBytes(3).toString('hex')}`;
  const { apiKey } = await platform.operator.createOrganization(org);
  const client = createTavioClient({ baseUrl: platform.api.url, apiKey: apiKey.key });
  await client.createEnvironment(org, 'bench', 'us');
  const src = await client.createConnection(org, 'bench', {
    name: 'hris',
    kind: 'hris-rest',
    baseUrl: source.url,
    credentials: { apiKey: sourceKey },
  });
  const dst = await client.createConnection(org, 'bench', {
    name: 'dir',
    kind: 'upsert-rest',
    baseUrl: destination.url,
    credentials: { token },
  });
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
    if (listed.length !== 200) throw new Error(`listed ${listed.length} runs`);
    if (i >= 2) times.push(ms);
  }
  const figures = { p50: Math.round(percentile(times, 0.5)), p95: Math.round(percentile(times, 0.95)) };
  console.log(`list of 200 of ${RUNS} running runs: p50 ${figures.p50} ms, p95 ${figures.p95} ms`);
  console.log(JSON.stringify({ bench: 'run-list', runs: RUNS, lists: LISTS, ...figures }));
  await client.retireEnvironment(org, 'bench');
} finally {
  await source.close();
  await destination.close();
  await platform.stop();
}
