import type { RegionCode } from '../common/regions.js';
import { TavioApiError, summaryOf } from '../control-api/client.js';
import { mapEmployee } from '../integrations/hris-employee-sync/mapping.js';
import { benchPlatform, percentile } from './support.js';

/**
 * Load: RUNS hris-employee-sync runs started at once across the three regions, spread over
 * ENVIRONMENTS_PER_REGION environments in each, one region host per region. Each run is timed from
 * its create call until the API reports it completed. Prints the time until the last one completed,
 * p50/p95/max run latency, and errors (API refusals, runs that did not complete, wrong counts): zero
 * expected. Asserts nothing. Usage: tsx bench/load.ts [runs] [environments per region].
 */
const RUNS = Number(process.argv[2] ?? 100);
const ENVIRONMENTS_PER_REGION = Number(process.argv[3] ?? 2);
const EMPLOYEES = 200;
const REGIONS: RegionCode[] = ['us', 'ca', 'eu'];
const say = (line: string) => process.stderr.write(`${line}\n`);

const bench = await benchPlatform({ regions: REGIONS, employees: EMPLOYEES });
const { org, client, platform, source } = bench;
try {
  const expectedWritten = source.employees.filter((employee) => mapEmployee(employee) !== null).length;
  // The organization's quotas are raised for the load: they are not what is measured.
  await platform.operator.setQuotas(org, {
    environments: REGIONS.length * ENVIRONMENTS_PER_REGION,
    runsPerMinute: RUNS * 2,
    concurrentRunsPerEnvironment: RUNS,
  });
  say(`load: ${REGIONS.length * ENVIRONMENTS_PER_REGION} environments in ${REGIONS.join(', ')}...`);
  const environments = await Promise.all(
    REGIONS.flatMap((region) =>
      Array.from({ length: ENVIRONMENTS_PER_REGION }, async (_, i) => {
        const env = `load-${region}-${i}`;
        await client.createEnvironment(org, env, region);
        const [src, dst] = await bench.connect(env);
        return { env, region, connections: { source: src.id, destination: dst.id } };
      }),
    ),
  );

  say(`load: ${RUNS} runs of ${EMPLOYEES} employees started at once...`);
  const started = Date.now();
  let finished = 0;
  const progress = setInterval(() => say(`load: ${finished}/${RUNS} runs ended`), 5_000);
  const outcomes = await Promise.all(
    Array.from({ length: RUNS }, async (_, i) => {
      const { env, region, connections } = environments[i % environments.length]!;
      const createdAt = Date.now();
      try {
        const run = await client.createRun(org, env, {
          integration: 'hris-employee-sync',
          connections,
          options: { pageSize: 50 },
          idempotencyKey: `load-${i}`,
        });
        const done = await client.waitForRun(org, env, run.id, { timeoutMs: 600_000, intervalMs: 250 });
        const written = summaryOf(done, 'hris-employee-sync')?.recordsWritten;
        const error =
          done.status !== 'completed'
            ? `ended ${done.status}: ${done.failure}`
            : written !== expectedWritten
              ? `wrote ${written} of ${expectedWritten}`
              : undefined;
        return { region, latencyMs: Date.now() - createdAt, error };
      } catch (error) {
        const what = error instanceof TavioApiError ? error.problem.type : (error as Error).message;
        return { region, latencyMs: Date.now() - createdAt, error: what };
      } finally {
        finished += 1;
      }
    }),
  );
  clearInterval(progress);
  const wallSeconds = (Date.now() - started) / 1000;
  const latencies = outcomes.map((outcome) => outcome.latencyMs / 1000);
  const errors = outcomes.flatMap((outcome) => (outcome.error ? [outcome.error] : []));
  const result = {
    runs: RUNS,
    environments: environments.length,
    employeesPerRun: EMPLOYEES,
    allCompletedInSeconds: Number(wallSeconds.toFixed(1)),
    p50Seconds: Number(percentile(latencies, 0.5).toFixed(2)),
    p95Seconds: Number(percentile(latencies, 0.95).toFixed(2)),
    maxSeconds: Number(Math.max(...latencies).toFixed(2)),
    runsPerSecond: Number((RUNS / wallSeconds).toFixed(2)),
    errors: errors.length,
  };
  console.table([result]);
  const byRegion = REGIONS.map((region) => {
    const mine = outcomes.filter((outcome) => outcome.region === region).map((o) => o.latencyMs / 1000);
    return {
      region,
      runs: mine.length,
      p50Seconds: percentile(mine, 0.5),
      p95Seconds: percentile(mine, 0.95),
    };
  });
  console.table(byRegion);
  for (const error of new Set(errors)) say(`error: ${error}`);
  console.log(JSON.stringify(result));
} finally {
  await bench.close();
}
