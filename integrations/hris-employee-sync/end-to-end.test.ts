import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Run } from '../../control-api/client.js';
import { summaryOf } from '../../control-api/client.js';
import { mapEmployee } from './mapping.js';
import type { EnvScenario } from '../../test/support/scenario.js';
import { gatewayLog, gatewayMarks } from '../../test/support/gateways.js';
import type { GatewayMarks } from '../../test/support/gateways.js';
import {
  decodedText,
  histories,
  newEnvironment,
  newOrganization,
  runRequest,
} from '../../test/support/scenario.js';

const EMPLOYEES = 300;

describe('hris-employee-sync end to end, in two regions', () => {
  const scenarios: Record<'us' | 'eu', EnvScenario> = {} as never;
  const runs: Record<'us' | 'eu', Run> = {} as never;

  let marks: GatewayMarks;

  beforeAll(async () => {
    marks = gatewayMarks();
    const org = await newOrganization('e2e');
    for (const region of ['us', 'eu'] as const) {
      scenarios[region] = await newEnvironment(region, { org, env: `prod-${region}`, employees: EMPLOYEES });
    }
    await Promise.all(
      (['us', 'eu'] as const).map(async (region) => {
        const s = scenarios[region];
        const started = await s.client.createRun(s.org, s.env, runRequest(s));
        runs[region] = await s.client.waitForRun(s.org, s.env, started.id);
      }),
    );
  });
  afterAll(async () => {
    await Promise.all(Object.values(scenarios).map((s) => s.close()));
  });

  it.each(['us', 'eu'] as const)('completes in region %s with counts that match the source', (region) => {
    const run = runs[region];
    const expectedWritten = scenarios[region].source.employees.filter((e) => mapEmployee(e) !== null).length;
    expect(run.status).toBe('completed');
    expect(run.summary).toMatchObject({
      recordsRead: EMPLOYEES,
      recordsWritten: expectedWritten,
      recordsSkipped: EMPLOYEES - expectedWritten,
      pages: 6,
    });
    expect(expectedWritten).toBeLessThan(EMPLOYEES);
    // 6 pages with 3 pages per execution: one continue-as-new.
    expect(summaryOf(run, 'hris-employee-sync')?.executions).toBe(2);
  });

  it.each(['us', 'eu'] as const)(
    'runs in the environment namespace, on region %s task queue',
    async (region) => {
      const s = scenarios[region];
      const run = runs[region];
      const gateway = region === 'us' ? 'us1' : 'eu1';
      expect(run.namespace).toBe(s.environment.namespace);
      expect(run.taskQueue).toBe(gateway);
      const all = await histories(run.namespace, run.workflowId);
      expect(all).toHaveLength(2);
      const queues = new Set<string>();
      for (const history of all) {
        for (const event of history.events ?? []) {
          const name =
            event.activityTaskScheduledEventAttributes?.taskQueue?.name ??
            event.workflowExecutionStartedEventAttributes?.taskQueue?.name;
          if (name) queues.add(name);
        }
      }
      expect([...queues]).toEqual([gateway]);
    },
  );

  it('writes the mapped records to the destination, and only there', () => {
    const s = scenarios.us;
    const first = s.source.employees[0]!;
    expect(s.destination.records.size).toBe(summaryOf(runs.us, 'hris-employee-sync')?.recordsWritten);
    expect(s.destination.records.get(first.employee_id)).toMatchObject({
      externalId: first.employee_id,
      email: first.work_email,
      nationalId: first.national_id,
      salaryAmount: first.compensation.amount,
    });
  });

  it('keeps every employee value out of the Temporal histories', async () => {
    for (const region of ['us', 'eu'] as const) {
      const s = scenarios[region];
      const text = (await histories(runs[region].namespace, runs[region].workflowId))
        .map(decodedText)
        .join('\n');
      // Decoding works: the connection ids travel inside the workflow's input payload.
      expect(text).toContain(s.sourceConnectionId);
      const leaked = s.source.employees.flatMap((e) =>
        [
          e.work_email,
          e.national_id,
          `${e.first_name} ${e.last_name}`,
          e.birth_date,
          `"amount":${e.compensation.amount}`,
          `"salaryAmount":${e.compensation.amount}`,
        ]
          .filter((value): value is string => value !== null && value.length >= 5)
          .filter((value) => text.includes(value)),
      );
      expect(leaked).toEqual([]);
      // The connections' secrets never travel either.
      expect(text).not.toMatch(/apiKey|token"/);
    }
  });

  it('carries the search attributes for organization, environment, region and integration', async () => {
    const [first] = await histories(runs.eu.namespace, runs.eu.workflowId);
    const started = first?.events?.[0]?.workflowExecutionStartedEventAttributes;
    const fields = JSON.parse(decodedText(started?.searchAttributes)) as {
      indexedFields: Record<string, { data: string }>;
    };
    const values = Object.fromEntries(
      Object.entries(fields.indexedFields).map(([name, payload]) => [
        name,
        JSON.parse(payload.data) as unknown,
      ]),
    );
    expect(values).toEqual({
      TavioOrganization: scenarios.eu.org,
      TavioEnvironment: scenarios.eu.env,
      TavioRegion: 'eu',
      TavioIntegration: 'hris-employee-sync',
    });
  });

  it("sends every outbound call through the region's own gateway", () => {
    const logOf = (gateway: string) => gatewayLog(gateway, marks);
    const usSourcePort = new URL(scenarios.us.source.url).port;
    const euSourcePort = new URL(scenarios.eu.source.url).port;
    expect(logOf('us1')).toContain(`:${usSourcePort}`);
    expect(logOf('eu1')).toContain(`:${euSourcePort}`);
    expect(logOf('eu1')).not.toContain(`:${usSourcePort}`);
    expect(logOf('us1')).not.toContain(`:${euSourcePort}`);
    expect(logOf('ca1')).not.toContain(`:${usSourcePort}`);
  });

  it('returns the same run for the same idempotency key, and refuses the key with other arguments', async () => {
    const s = scenarios.us;
    const request = runRequest(s, { idempotencyKey: 'replayed-key' });
    const first = await s.client.createRun(s.org, s.env, request);
    const again = await s.client.createRun(s.org, s.env, request);
    expect(again.id).toBe(first.id);
    expect(again.workflowId).toBe(first.workflowId);
    await expect(
      s.client.createRun(s.org, s.env, { ...request, options: { pageSize: 7 } }),
    ).rejects.toMatchObject({
      problem: { status: 409, type: 'https://tavio.dev/problems/idempotency-key-reused' },
    });
    const listed = await s.client.listRuns(s.org, s.env);
    expect(listed.filter((run) => run.idempotencyKey === 'replayed-key')).toHaveLength(1);
    await s.client.waitForRun(s.org, s.env, first.id);
  });
});
