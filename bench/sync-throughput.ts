import { randomBytes } from 'node:crypto';
import { createTavioClient } from '../control-api/client.js';
import { startHrisSource } from '../fixtures/hris-source.js';
import { startUpsertDestination } from '../fixtures/upsert-destination.js';
import { startPlatform } from '../scripts/platform.js';
import { environmentWorkerPid, rssMiB, waitFor } from '../scripts/processes.js';
import { stackUp } from '../scripts/stack/services.js';

/**
 * Throughput of hris-employee-sync on the local stack: one environment, one run of EMPLOYEES
 * records (default 10000, no rate limiting) through the region's gateway, then the idle RSS of
 * that environment's worker process. Prints figures; asserts nothing.
 */
const EMPLOYEES = Number(process.argv[2] ?? 10_000);
const PAGE_SIZE = Number(process.argv[3] ?? 100);
const say = (line: string) => process.stderr.write(`${line}\n`);

const stack = await stackUp({ quiet: true });
const platform = await startPlatform(stack, { regions: ['us'] });
const sourceKey = randomBytes(16).toString('hex');
const token = randomBytes(16).toString('hex');
const source = await startHrisSource({ apiKey: sourceKey, employees: EMPLOYEES });
const destination = await startUpsertDestination({ token });
try {
  const org = `bench-${randomBytes(3).toString('hex')}`;
  const { apiKey } = await platform.operator.createOrganization(org);
  const client = createTavioClient({ baseUrl: platform.api.url, apiKey: apiKey.key });
  await client.createEnvironment(org, 'bench', 'us');
  const namespace = `${org}-bench`;
  const pid = await waitFor('the environment worker', () => environmentWorkerPid(namespace), 30_000);
  await new Promise((resolve) => setTimeout(resolve, 5000));
  const idleRss = rssMiB(pid);
  const src = await client.createConnection(org, 'bench', {
    name: 'hris',
    kind: 'hris-rest',
    baseUrl: source.url,
    credentials: { apiKey: sourceKey },
  });
  const dst = await client.createConnection(org, 'bench', {
    name: 'directory',
    kind: 'upsert-rest',
    baseUrl: destination.url,
    credentials: { token },
  });
  say(`running ${EMPLOYEES} employees, pages of ${PAGE_SIZE}, through gateway us1...`);
  const started = Date.now();
  const run = await client.createRun(org, 'bench', {
    integration: 'hris-employee-sync',
    connections: { source: src.id, destination: dst.id },
    options: { pageSize: PAGE_SIZE, pagesPerExecution: 25 },
    idempotencyKey: 'bench',
  });
  const done = await client.waitForRun(org, 'bench', run.id, { timeoutMs: 600_000, intervalMs: 200 });
  const wallMs = Date.now() - started;
  const s = done.summary!;
  console.log(`status                     ${done.status}`);
  console.log(
    `records read / written     ${s.recordsRead} / ${s.recordsWritten} (${s.recordsSkipped} skipped)`,
  );
  console.log(`pages / executions         ${s.pages} / ${s.executions}`);
  console.log(`workflow duration          ${(s.durationMs / 1000).toFixed(1)} s`);
  console.log(
    `records per second         ${Math.round((s.recordsRead * 1000) / s.durationMs)} (workflow clock), ${Math.round((s.recordsRead * 1000) / wallMs)} (client wall clock)`,
  );
  console.log(`worker RSS idle / after    ${idleRss} MiB / ${rssMiB(pid)} MiB`);
  // Retired through the API: its bucket, key, role and namespace go too.
  await client.retireEnvironment(org, 'bench');
} finally {
  await source.close();
  await destination.close();
  await platform.stop();
}
