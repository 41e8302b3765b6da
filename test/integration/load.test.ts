import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { summaryOf } from '../../control-api/client.js';
import { mapEmployee } from '../../integrations/hris-employee-sync/mapping.js';
import type { EnvScenario } from '../support/scenario.js';
import { newEnvironment, newOrganization, runRequest } from '../support/scenario.js';

/** `npm run bench:load` at a smaller scale: runs started at once in three regions all complete, right. */
describe('concurrent runs across the regions', () => {
  const RUNS_PER_REGION = 4;
  let environments: EnvScenario[];

  beforeAll(async () => {
    const org = await newOrganization('load');
    environments = await Promise.all(
      (['us', 'ca', 'eu'] as const).map((region) => newEnvironment(region, { org, employees: 120 })),
    );
  });
  afterAll(async () => {
    await Promise.all(environments.map((s) => s.close()));
  });

  it('completes every run with the source’s valid records, none refused', async () => {
    const runs = await Promise.all(
      environments.flatMap((s) =>
        Array.from({ length: RUNS_PER_REGION }, async () => {
          const run = await s.client.createRun(s.org, s.env, runRequest(s));
          return { s, done: await s.client.waitForRun(s.org, s.env, run.id, { timeoutMs: 170_000 }) };
        }),
      ),
    );
    expect(runs).toHaveLength(3 * RUNS_PER_REGION);
    for (const { s, done } of runs) {
      const valid = s.source.employees.filter((employee) => mapEmployee(employee) !== null).length;
      expect(done.status).toBe('completed');
      expect(done.region).toBe(s.environment.region);
      expect(summaryOf(done, 'hris-employee-sync')?.recordsWritten).toBe(valid);
    }
    for (const s of environments) {
      expect(s.destination.divergent.size).toBe(0);
      expect(s.destination.records.size).toBe(
        s.source.employees.filter((employee) => mapEmployee(employee) !== null).length,
      );
    }
  });
});
