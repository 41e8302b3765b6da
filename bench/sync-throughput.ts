import { ProxyAgent, request } from 'undici';
import { mapEmployee } from '../integrations/hris-employee-sync/mapping.js';
import type { CanonicalEmployee } from '../integrations/hris-employee-sync/mapping.js';
import { proxyAuthorization } from '../activities/http.js';
import { summaryOf } from '../control-api/client.js';
import { DEFAULT_RETENTION } from '../common/retention.js';
import type { LogDetail } from '../common/run-log.js';
import { environmentWorkerPid, rssMiB, waitFor } from '../scripts/processes.js';
import { createGatewayCredentials } from '../workers/gateway-credentials.js';
import { benchPlatform, percentile } from './support.js';

/**
 * P1, sync throughput against a plain baseline, in one run. Method: one environment in region us,
 * a fixture HRIS of EMPLOYEES records (default 10000, no rate limiting) and a fixture destination.
 * - baseline: a plain Node loop that extracts a page, maps it with the same mapping and loads it,
 *   through a gateway with the stack's configuration, authenticated as the environment; no
 *   Temporal, no vault, no activity, no page extracted ahead.
 * - Tavio: runs of hris-employee-sync with default options through the region host, its worker
 *   and the region's gateway: a first one that starts the environment's worker on demand (cold),
 *   then warm ones, timed by the workflow's own clock (from its first workflow task) and by the
 *   client's (from the create call until the API reports it completed, polled every 100 ms).
 * The baseline runs once to warm up; then ROUNDS rounds (default 5) each run the baseline and a
 * warm Tavio run back to back, in turn first, so that both see the same state of the machine, then a warm
 * Tavio run whose log is kept at `records` detail (every skipped record's field errors) instead of
 * `metadata`. The table shows the medians and their ratios, then the worker's RSS. Absolute figures drift between runs on
 * shared machines; the ratio is the figure.
 * Usage: tsx bench/sync-throughput.ts [employees] [page size] [rounds].
 */
const EMPLOYEES = Number(process.argv[2] ?? 10_000);
const PAGE_SIZE = Number(process.argv[3] ?? 100);
const ROUNDS = Number(process.argv[4] ?? 5);
if (!Number.isInteger(ROUNDS) || ROUNDS < 1)
  throw new Error(`rounds must be a whole number of at least 1, not ${process.argv[4]}`);
const say = (line: string) => process.stderr.write(`${line}\n`);

/** The plain loop: answers records per second. */
async function baseline(options: {
  gateway: ProxyAgent;
  sourceUrl: string;
  sourceKey: string;
  destinationUrl: string;
  token: string;
}): Promise<number> {
  const started = process.hrtime.bigint();
  let cursor: string | null = null;
  let read = 0;
  do {
    const url = new URL('/v1/employees', options.sourceUrl);
    url.searchParams.set('limit', String(PAGE_SIZE));
    if (cursor !== null) url.searchParams.set('cursor', cursor);
    const page = await request(url, {
      dispatcher: options.gateway,
      headers: { 'x-api-key': options.sourceKey, accept: 'application/json' },
    });
    const body = (await page.body.json()) as { data: unknown[]; next_cursor: string | null };
    const records = body.data
      .map((record) => mapEmployee(record))
      .filter((r): r is CanonicalEmployee => r !== null);
    const loaded = await request(new URL('/v1/employees/batch-upsert', options.destinationUrl), {
      method: 'POST',
      dispatcher: options.gateway,
      headers: { authorization: `Bearer ${options.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ records }),
    });
    await loaded.body.arrayBuffer();
    if (page.statusCode !== 200 || loaded.statusCode !== 200)
      throw new Error(`baseline: source ${page.statusCode}, destination ${loaded.statusCode}`);
    read += body.data.length;
    cursor = body.next_cursor;
  } while (cursor !== null);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return read / seconds;
}

const bench = await benchPlatform({ regions: ['us'], employees: EMPLOYEES });
const { org, client, source, destination, sourceKey, token } = bench;
const baselineGateway = await bench.gateway();
try {
  const environment = await client.createEnvironment(org, 'bench', 'us');
  const { namespace } = environment;
  const [src, dst] = await bench.connect('bench');
  const credentials = await createGatewayCredentials(baselineGateway.files.passwd).issue(environment.id);
  const gateway = new ProxyAgent({
    uri: baselineGateway.url,
    proxyTunnel: false,
    token: proxyAuthorization(credentials),
  });
  const plain = { gateway, sourceUrl: source.url, sourceKey, destinationUrl: destination.url, token };
  say(`baseline: ${EMPLOYEES} employees, pages of ${PAGE_SIZE}, plain loop through a gateway...`);
  // A first pass warms the loop's code and connections, as the worker's are warm after its first run.
  await baseline(plain);
  /** A run through the API, its log at `detail`: its summary, and its wall-clock time from the create call. */
  async function tavioRun(idempotencyKey: string, detail: LogDetail = 'metadata') {
    const policy = await client.getRetention(org, 'bench');
    if (policy.runLogDetail !== detail)
      await client.putRetention(org, 'bench', {
        ...DEFAULT_RETENTION,
        runLogDetail: detail,
        version: policy.version,
      });
    const started = Date.now();
    const run = await client.createRun(org, 'bench', {
      integration: 'hris-employee-sync',
      connections: { source: src.id, destination: dst.id },
      options: { pageSize: PAGE_SIZE },
      idempotencyKey,
    });
    const done = await client.waitForRun(org, 'bench', run.id, { timeoutMs: 600_000, intervalMs: 100 });
    const summary = summaryOf(done, 'hris-employee-sync');
    if (done.status !== 'completed' || summary?.recordsRead !== EMPLOYEES)
      throw new Error(`run ended ${done.status}`);
    return { summary, wallMs: Date.now() - started };
  }
  say('Tavio: a first run, with a cold worker...');
  const cold = await tavioRun('bench-cold');
  const rate = (ms: number) => (EMPLOYEES * 1000) / ms;
  const plainRates: number[] = [];
  const tavioRates: number[] = [];
  const wallRates: number[] = [];
  const recordsRates: number[] = [];
  let warm = cold;
  for (let round = 1; round <= ROUNDS; round++) {
    // Each goes first every other round: neither always follows the other's after-effects.
    const tavioFirst = round % 2 === 0;
    if (tavioFirst) warm = await tavioRun(`bench-warm-${round}`);
    plainRates.push(await baseline(plain));
    if (!tavioFirst) warm = await tavioRun(`bench-warm-${round}`);
    tavioRates.push(rate(warm.summary.durationMs));
    wallRates.push(rate(warm.wallMs));
    recordsRates.push(rate((await tavioRun(`bench-records-${round}`, 'records')).summary.durationMs));
    say(
      `round ${round}/${ROUNDS}: baseline ${Math.round(plainRates.at(-1)!)}, Tavio ${Math.round(tavioRates.at(-1)!)}, with records-level logs ${Math.round(recordsRates.at(-1)!)} records/s`,
    );
  }
  // Started for the first run, the worker stays for the host's idle period.
  const pid = await waitFor('the environment worker', () => environmentWorkerPid(namespace), 5_000);
  await gateway.close();
  const median = (values: number[]) => percentile(values, 0.5);
  const plainRate = median(plainRates);
  const rows: [string, number][] = [
    ['Tavio, workflow clock', median(tavioRates)],
    ['Tavio, client wall clock', median(wallRates)],
    ['Tavio, cold worker, wall', rate(cold.wallMs)],
    ['Tavio, records-level logs', median(recordsRates)],
  ];
  console.log(`path (median of ${ROUNDS})          records/s   vs baseline`);
  console.log(
    `baseline (plain loop)        ${Math.round(plainRate).toString().padStart(9)}   1.00x  (from ${Math.round(Math.min(...plainRates))} to ${Math.round(Math.max(...plainRates))})`,
  );
  for (const [path, value] of rows)
    console.log(
      `${path.padEnd(28)} ${Math.round(value).toString().padStart(9)}   ${(value / plainRate).toFixed(2)}x`,
    );
  console.log(`pages / executions           ${warm.summary.pages} / ${warm.summary.executions}`);
  console.log(`worker RSS after the runs    ${rssMiB(pid)} MiB`);
  console.log(
    JSON.stringify({
      bench: 'P1 sync-throughput',
      employees: EMPLOYEES,
      pageSize: PAGE_SIZE,
      rounds: ROUNDS,
      baseline: Math.round(plainRate),
      tavio: Math.round(rows[0]![1]),
      tavioWall: Math.round(rows[1]![1]),
      tavioColdWall: Math.round(rows[2]![1]),
      ratio: Number((rows[0]![1] / plainRate).toFixed(3)),
      ratioWall: Number((rows[1]![1] / plainRate).toFixed(3)),
      ratioColdWall: Number((rows[2]![1] / plainRate).toFixed(3)),
      tavioRecordsLogs: Math.round(rows[3]![1]),
      recordsLogsVsMetadata: Number((rows[3]![1] / rows[0]![1]).toFixed(3)),
    }),
  );
  // Retired through the API: its bucket, key, role and namespace go too.
  await client.retireEnvironment(org, 'bench');
} finally {
  baselineGateway.stop();
  await bench.close();
}
