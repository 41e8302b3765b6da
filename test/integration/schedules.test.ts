import type { Connection } from '@temporalio/client';
import { and, eq, like } from 'drizzle-orm';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditLog, schedules } from '../../db/schema.js';
import type { Run, Schedule } from '../../control-api/client.js';
import { startWebhookReceiver } from '../../fixtures/webhook-receiver.js';
import { waitFor } from '../../scripts/processes.js';
import { testDatabase } from '../support/database.js';
import type { EnvScenario } from '../support/scenario.js';
import { newEnvironment, rawRequest } from '../support/scenario.js';
import { TEST_SCHEDULE_MIN_INTERVAL_SECONDS } from '../support/schedule-minimum.js';
import { systemConnection } from '../support/temporal.js';

const INTERVAL = TEST_SCHEDULE_MIN_INTERVAL_SECONDS;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('schedules', () => {
  const database = testDatabase();
  let s: EnvScenario;
  let other: EnvScenario;
  let temporal: Connection;

  beforeAll(async () => {
    s = await newEnvironment('us', { employees: 20 });
    other = await newEnvironment('us', { org: s, employees: 5 });
    temporal = await systemConnection();
  });
  afterAll(async () => {
    await temporal?.close();
    await Promise.all([s?.close(), other?.close()]);
    await database.close();
  });

  const namespace = () => s.environment.namespace;
  const request = (overrides: Record<string, unknown>) => ({
    name: 'nightly',
    integration: 'hris-employee-sync',
    connections: { source: s.sourceConnectionId, destination: s.destinationConnectionId },
    options: { pageSize: 50, pagesPerExecution: 3 },
    ...overrides,
  });
  /** The runs the API lists for a schedule. */
  const runsOf = async (scheduleId: string): Promise<Run[]> =>
    (await s.client.listRuns(s.org, s.env, 200)).filter((run) => run.scheduleId === scheduleId);
  /** The workflow executions Temporal holds for a schedule, found by search attributes. */
  const executionsOf = async (schedule: Schedule) => {
    const { executions } = await temporal.workflowService.listWorkflowExecutions({
      namespace: namespace(),
      query: `TavioOrganization = '${s.org}' AND TavioEnvironment = '${s.env}' AND TemporalScheduledById = '${schedule.temporalScheduleId}'`,
    });
    return executions ?? [];
  };
  const tavioSchedulesInTemporal = async () => {
    const { schedules: found } = await temporal.workflowService.listSchedules({ namespace: namespace() });
    return (found ?? []).map((entry) => entry.scheduleId!).filter((id) => id.startsWith('tavio-schedule-'));
  };

  it('refuses bad input with a 422 naming the problem, and creates nothing', async () => {
    const post = (body: unknown) =>
      rawRequest('POST', `/v1/organizations/${s.org}/environments/${s.env}/schedules`, {
        key: s.envKey,
        body: JSON.stringify(body),
      });
    const cases: [Record<string, unknown>, string, RegExp][] = [
      [{ cron: '0 2 * *' }, 'invalid-cron', /^cron: /],
      [{ cron: 'every day' }, 'invalid-cron', /^cron: /],
      [
        { cron: '0 2 * * *', timeZone: 'Mars/Olympus_Mons' },
        'unknown-time-zone',
        /^timeZone: Mars\/Olympus_Mons/,
      ],
      [{ intervalSeconds: INTERVAL - 1 }, 'interval-below-minimum', /^intervalSeconds: /],
      [{ cron: '0 2 * * *', intervalSeconds: 3600 }, 'invalid-schedule-timing', /not both/],
      [{}, 'invalid-schedule-timing', /give cron or intervalSeconds/],
      [
        {
          intervalSeconds: 3600,
          connections: { source: other.sourceConnectionId, destination: s.destinationConnectionId },
        },
        'unknown-connection',
        new RegExp(`connection ${other.sourceConnectionId} does not exist in this environment`),
      ],
    ];
    for (const [overrides, kind, detail] of cases) {
      const answer = await post(request(overrides));
      expect(answer.status, JSON.stringify(overrides)).toBe(422);
      expect(answer.body.type).toBe(`https://tavio.dev/problems/${kind}`);
      expect(answer.body.detail).toMatch(detail);
    }
    expect(await s.client.listSchedules(s.org, s.env)).toEqual([]);
    const rows = await database.db
      .select()
      .from(schedules)
      .where(eq(schedules.environmentId, s.environment.id));
    expect(rows).toEqual([]);
    expect(await tavioSchedulesInTemporal()).toEqual([]);
  });

  it("answers 404 for another environment's schedule, through any route, and changes nothing", async () => {
    // Far from now and paused: the other environment's schedule never fires during the test.
    const hour = (new Date().getUTCHours() + 12) % 24;
    const theirs = await other.client.createSchedule(other.org, other.env, {
      name: 'theirs',
      integration: 'hris-employee-sync',
      connections: { source: other.sourceConnectionId, destination: other.destinationConnectionId },
      cron: `15 ${hour} * * *`,
      paused: true,
    });
    const [before] = await database.db.select().from(schedules).where(eq(schedules.id, theirs.id));
    const path = `/v1/organizations/${s.org}/environments/${s.env}/schedules/${theirs.id}`;
    const day = new Date();
    day.setUTCHours(0, 0, 0, 0);
    const range = { startAt: new Date(day.getTime() - 86_400_000).toISOString(), endAt: day.toISOString() };
    const attempts: [string, string, unknown][] = [
      ['GET', path, undefined],
      ['PATCH', path, { name: 'taken-over', paused: false }],
      ['DELETE', path, undefined],
      ['POST', `${path}/trigger`, undefined],
      ['POST', `${path}/pause`, {}],
      ['POST', `${path}/resume`, {}],
      ['POST', `${path}/backfill`, range],
    ];
    // The organization's admin key sees both environments: only the schedule's own environment answers.
    for (const key of [s.envKey, s.adminKey])
      for (const [method, url, body] of attempts) {
        const answer = await rawRequest(method, url, {
          key,
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        });
        expect(answer.status, `${method} ${url}`).toBe(404);
        expect(answer.body.type).toBe('https://tavio.dev/problems/not-found');
      }
    const [after] = await database.db.select().from(schedules).where(eq(schedules.id, theirs.id));
    expect(after).toEqual(before);
    const described = await temporal.workflowService.describeSchedule({
      namespace: other.environment.namespace,
      scheduleId: theirs.temporalScheduleId,
    });
    expect(described.schedule?.state?.paused).toBe(true);
    expect(Number(described.info?.actionCount ?? 0)).toBe(0);
    expect(described.info?.runningWorkflows ?? []).toEqual([]);
    const audited = await database.db
      .select({ action: auditLog.action })
      .from(auditLog)
      .where(and(eq(auditLog.target, theirs.temporalScheduleId), like(auditLog.action, 'schedule.%')));
    expect(audited.map((entry) => entry.action)).toEqual(['schedule.created']);
    await other.client.deleteSchedule(other.org, other.env, theirs.id);
  });

  let frequent: Schedule;

  it("fires runs of the integration on the region's queue, listed with their schedule, found by search attributes", async () => {
    frequent = await s.client.createSchedule(
      s.org,
      s.env,
      request({ name: 'frequent', intervalSeconds: INTERVAL }),
    );
    expect(frequent).toMatchObject({
      intervalSeconds: INTERVAL,
      cron: null,
      timeZone: 'UTC',
      overlapPolicy: 'skip',
      catchupWindowSeconds: 3600,
      paused: false,
      namespace: namespace(),
      temporalScheduleId: `tavio-schedule-${frequent.id}`,
    });
    const completed = await waitFor(
      'two scheduled runs to complete',
      async () => {
        const done = (await runsOf(frequent.id)).filter((run) => run.status === 'completed');
        return done.length >= 2 ? done : undefined;
      },
      120_000,
    );
    for (const run of completed) {
      expect(run).toMatchObject({
        integration: 'hris-employee-sync',
        taskQueue: 'us1',
        region: 'us',
        namespace: namespace(),
        retentionPolicyVersion: 0,
        logDetail: 'metadata',
      });
      expect(run.workflowId).toMatch(new RegExp(`^hris-employee-sync-schedule-${frequent.id}-\\d{4}-`));
      expect(run.idempotencyKey).toMatch(new RegExp(`^schedule:${frequent.id}:\\d{4}-\\d\\d-\\d\\dT`));
      expect(run.summary).toMatchObject({ recordsWritten: 20 });
    }
    // The schedule is found in Temporal by the same search attributes as its runs.
    const { schedules: found } = await temporal.workflowService.listSchedules({
      namespace: namespace(),
      query: `TavioOrganization = '${s.org}' AND TavioEnvironment = '${s.env}' AND TavioIntegration = 'hris-employee-sync'`,
    });
    expect((found ?? []).map((entry) => entry.scheduleId)).toContain(frequent.temporalScheduleId);
    // Its workflows too, each on the region's queue.
    const executions = await executionsOf(frequent);
    expect(executions.length).toBeGreaterThanOrEqual(2);
    expect(new Set(executions.map((execution) => execution.taskQueue))).toEqual(new Set(['us1']));
    for (const run of completed)
      expect(executions.map((execution) => execution.execution?.workflowId)).toContain(run.workflowId);
    const detail = await s.client.getSchedule(s.org, s.env, frequent.id);
    expect(detail.temporal).toMatchObject({ paused: false });
    expect(detail.temporal!.recentActions.length).toBeGreaterThanOrEqual(2);
    expect(detail.temporal!.nextActionTimes.length).toBeGreaterThan(0);
  });

  it('stops firing while paused and fires again once resumed', async () => {
    const paused = await s.client.pauseSchedule(s.org, s.env, frequent.id, 'maintenance window');
    expect(paused.paused).toBe(true);
    expect((await s.client.getSchedule(s.org, s.env, frequent.id)).temporal).toMatchObject({
      paused: true,
      note: 'maintenance window',
    });
    // A run started just before the pause is recorded meanwhile.
    await sleep(5_000);
    const before = {
      runs: (await runsOf(frequent.id)).length,
      executions: (await executionsOf(frequent)).length,
    };
    await sleep(3 * INTERVAL * 1000);
    expect((await runsOf(frequent.id)).length).toBe(before.runs);
    expect((await executionsOf(frequent)).length).toBe(before.executions);

    expect((await s.client.resumeSchedule(s.org, s.env, frequent.id)).paused).toBe(false);
    await waitFor(
      'a run after the schedule resumed',
      async () => (await runsOf(frequent.id)).length > before.runs || undefined,
      60_000,
    );
    const audited = await database.db
      .select({ action: auditLog.action })
      .from(auditLog)
      .where(and(eq(auditLog.environmentId, s.environment.id), like(auditLog.action, 'schedule.%')));
    expect(audited.map((entry) => entry.action)).toEqual(
      expect.arrayContaining(['schedule.created', 'schedule.paused', 'schedule.resumed']),
    );
  });

  it('changes a schedule in place, refusing a bad change and leaving it as it was', async () => {
    const patch = (body: unknown) =>
      rawRequest('PATCH', `/v1/organizations/${s.org}/environments/${s.env}/schedules/${frequent.id}`, {
        key: s.envKey,
        body: JSON.stringify(body),
      });
    const refused = await patch({ intervalSeconds: 1 });
    expect(refused).toMatchObject({
      status: 422,
      body: { type: 'https://tavio.dev/problems/interval-below-minimum' },
    });
    expect((await s.client.getSchedule(s.org, s.env, frequent.id)).intervalSeconds).toBe(INTERVAL);
    const changed = await patch({ overlapPolicy: 'buffer_one', catchupWindowSeconds: 600, paused: true });
    expect(changed).toMatchObject({ status: 200, body: { overlapPolicy: 'buffer_one', paused: true } });
    const described = await temporal.workflowService.describeSchedule({
      namespace: namespace(),
      scheduleId: frequent.temporalScheduleId,
    });
    expect(Number(described.schedule?.policies?.catchupWindow?.seconds)).toBe(600);
    expect(described.schedule?.state?.paused).toBe(true);
    expect(described.schedule?.spec?.interval?.[0]?.interval?.seconds?.toString()).toBe(String(INTERVAL));
  });

  it('deletes a schedule and its Temporal Schedule; the runs it started stay listed', async () => {
    const listed = (await runsOf(frequent.id)).length;
    await s.client.deleteSchedule(s.org, s.env, frequent.id);
    expect(await s.client.listSchedules(s.org, s.env)).toEqual([]);
    expect(await tavioSchedulesInTemporal()).toEqual([]);
    expect((await runsOf(frequent.id)).length).toBeGreaterThanOrEqual(listed);
    const gone = await rawRequest(
      'GET',
      `/v1/organizations/${s.org}/environments/${s.env}/schedules/${frequent.id}`,
      {
        key: s.envKey,
      },
    );
    expect(gone.status).toBe(404);
  });

  let daily: Schedule;

  it('starts one run at once when triggered, even while paused', async () => {
    // Half a day from now: the schedule does not fire by itself during the test.
    const hour = (new Date().getUTCHours() + 12) % 24;
    daily = await s.client.createSchedule(
      s.org,
      s.env,
      request({ name: 'daily', cron: `30 ${hour} * * *`, timeZone: 'Etc/UTC', paused: true }),
    );
    expect(daily).toMatchObject({ cron: `30 ${hour} * * *`, paused: true });
    const triggered = await s.client.triggerSchedule(s.org, s.env, daily.id);
    expect(triggered.overlapPolicy).toBe('skip');
    const [run] = await waitFor(
      'the triggered run to complete',
      async () => {
        const runs = await runsOf(daily.id);
        return runs.length > 0 && runs.every((r) => r.status === 'completed') ? runs : undefined;
      },
      60_000,
    );
    await sleep(4_000);
    expect(await runsOf(daily.id)).toHaveLength(1);
    expect(run!.status).toBe('completed');
  });

  it("backfills a past range: one run for each of the schedule's times in it", async () => {
    await s.client.resumeSchedule(s.org, s.env, daily.id);
    const hour = Number(daily.cron!.split(' ')[1]);
    const today = new Date();
    today.setUTCHours(0, 0, 0, 0);
    const startAt = new Date(today.getTime() - 3 * 86_400_000);
    const expected = [3, 2, 1].map((days) =>
      new Date(today.getTime() - days * 86_400_000 + hour * 3_600_000 + 30 * 60_000).toISOString(),
    );
    const answer = await s.client.backfillSchedule(s.org, s.env, daily.id, {
      startAt: startAt.toISOString(),
      endAt: today.toISOString(),
    });
    expect(answer).toMatchObject({ runs: 3, overlapPolicy: 'buffer_all' });
    const backfilled = await waitFor(
      'the three backfilled runs to complete',
      async () => {
        const runs = (await runsOf(daily.id)).filter((run) =>
          expected.some((at) => run.idempotencyKey.endsWith(at)),
        );
        return runs.length === 3 && runs.every((run) => run.status === 'completed') ? runs : undefined;
      },
      90_000,
    );
    expect(backfilled.map((run) => run.idempotencyKey).sort()).toEqual(
      expected.map((at) => `schedule:${daily.id}:${at}`).sort(),
    );
    expect(await runsOf(daily.id)).toHaveLength(4);

    const future = await rawRequest(
      'POST',
      `/v1/organizations/${s.org}/environments/${s.env}/schedules/${daily.id}/backfill`,
      {
        key: s.envKey,
        body: JSON.stringify({
          startAt: today.toISOString(),
          endAt: new Date(Date.now() + 86_400_000).toISOString(),
        }),
      },
    );
    expect(future).toMatchObject({
      status: 422,
      body: {
        type: 'https://tavio.dev/problems/invalid-backfill-range',
        detail: expect.stringMatching(/future/),
      },
    });

    const backfill = (body: unknown) =>
      rawRequest('POST', `/v1/organizations/${s.org}/environments/${s.env}/schedules/${daily.id}/backfill`, {
        key: s.envKey,
        body: JSON.stringify(body),
      });
    // The same range again would start its times twice: refused, naming the runs it holds.
    const repeated = await backfill({ startAt: startAt.toISOString(), endAt: today.toISOString() });
    expect(repeated).toMatchObject({
      status: 409,
      body: {
        type: 'https://tavio.dev/problems/backfill-overlaps-runs',
        detail: expect.stringMatching(/holds 3 run/),
      },
    });
    // Every run of the range at once, outside the run quotas: refused.
    const allAtOnce = await backfill({
      startAt: new Date(startAt.getTime() - 3 * 86_400_000).toISOString(),
      endAt: startAt.toISOString(),
      overlapPolicy: 'allow_all',
    });
    expect(allAtOnce).toMatchObject({
      status: 422,
      body: {
        type: 'https://tavio.dev/problems/invalid-backfill-policy',
        detail: expect.stringMatching(/^overlapPolicy: allow_all/),
      },
    });
    await sleep(3_000);
    expect(await runsOf(daily.id)).toHaveLength(4);
  });

  it("announces its pause and resume as signed webhooks, and starts its pair's newest mapping", async () => {
    const receiver = await startWebhookReceiver();
    try {
      const hook = await s.client.createWebhookEndpoint(s.org, s.env, {
        url: `${receiver.url}/hooks`,
        events: ['schedule.paused', 'schedule.resumed'],
      });
      await s.client.pauseSchedule(s.org, s.env, daily.id, 'source migration');
      await s.client.resumeSchedule(s.org, s.env, daily.id);
      const events = (await receiver.waitFor(2, 30_000)).map(
        (request) =>
          new Webhook(hook.secret).verify(request.body, request.headers as Record<string, string>) as {
            type: string;
            data: { scheduleId: string; scheduleName: string };
          },
      );
      expect(events.map((event) => event.type).sort()).toEqual(['schedule.paused', 'schedule.resumed']);
      for (const event of events)
        expect(event.data).toMatchObject({ scheduleId: daily.id, scheduleName: 'daily' });

      // A mapping saved for the schedule's pair reaches the runs it starts next.
      const fields = {
        externalId: { path: 'employee_id' },
        givenName: { path: 'first_name' },
        familyName: { path: 'last_name' },
        email: { path: 'work_email', transforms: [{ type: 'lowercase' as const }] },
        employmentStatus: { path: 'status' },
      };
      const pair = { source: s.sourceConnectionId, destination: s.destinationConnectionId };
      for (const version of [1, 2]) {
        const saved = await s.client.saveMapping(s.org, s.env, { ...pair, fields });
        expect(saved.version).toBe(version);
        const before = (await runsOf(daily.id)).length;
        await s.client.triggerSchedule(s.org, s.env, daily.id);
        const [run] = await waitFor(
          `the run triggered after mapping version ${version} to complete`,
          async () => {
            const runs = await runsOf(daily.id);
            return runs.length > before && runs[0]!.status === 'completed' ? runs : undefined;
          },
          60_000,
        );
        expect(run!.mappingVersion).toBe(version);
      }
    } finally {
      await receiver.close();
    }
  });

  it("deletes the environment's schedules when it retires", async () => {
    expect(await tavioSchedulesInTemporal()).toEqual([daily.temporalScheduleId]);
    const { receipt } = await s.admin.retireEnvironment(s.org, s.env);
    expect(receipt.schedulesDeleted).toBe(1);
    const rows = await database.db
      .select()
      .from(schedules)
      .where(eq(schedules.environmentId, s.environment.id));
    expect(rows).toEqual([]);
    const deleted = await database.db
      .select({ target: auditLog.target, details: auditLog.details })
      .from(auditLog)
      .where(and(eq(auditLog.environmentId, s.environment.id), eq(auditLog.action, 'schedule.deleted')));
    expect(deleted).toContainEqual({
      target: daily.temporalScheduleId,
      details: expect.objectContaining({ reason: 'environment retired' }) as unknown,
    });
  });
});
