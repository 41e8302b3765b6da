import { and, asc, eq } from 'drizzle-orm';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Database } from '../../db/client.js';
import { schedules } from '../../db/schema.js';
import { principalOf, visibleEnvironment } from '../auth.js';
import type { Principal } from '../auth.js';
import type { ApiDeps } from '../deps.js';
import { jsonResponse, problemResponses } from '../openapi.js';
import type { ProblemKind } from '../openapi.js';
import { scheduleDetailSchema, scheduleListSchema, scheduleSchema } from '../openapi-schemas.js';
import { assertEnvironmentActive, notFound } from '../problems.js';
import { createSchedule, fieldsOf, scheduleDepsOf, updateSchedule } from '../schedules.js';
import { removeSchedule } from '../schedule-removal.js';
import { describeSchedule, scheduleView } from '../schedule-view.js';
import type { ScheduleFields, ScheduleRow } from '../schedules.js';
import { OVERLAP_POLICIES } from '../schedule-spec.js';
import { envParams, slug } from '../schemas.js';

export const scheduleParams = envParams.extend({ schedule: z.uuid() });
export const DAY_SECONDS = 86_400;

export const timingFields = {
  cron: z.string().min(1).max(200).describe('5 fields: minute hour day-of-month month day-of-week'),
  intervalSeconds: z
    .number()
    .int()
    .max(366 * DAY_SECONDS)
    .describe('At least the platform minimum (300 s by default)'),
  timeZone: z.string().min(1).max(100).describe('IANA time zone, for example Europe/Paris'),
  overlapPolicy: z
    .enum(OVERLAP_POLICIES)
    .describe('What happens when a run of the schedule is still running at its next time'),
  catchupWindowSeconds: z
    .number()
    .int()
    .min(60)
    .max(7 * DAY_SECONDS)
    .describe('How late a missed time (Temporal unavailable) may still be run'),
  paused: z.boolean(),
};
export const note = z.string().min(1).max(200).describe("A note kept on the Temporal Schedule's state");

const createBody = z
  .object({
    name: slug,
    integration: z.string().min(1).max(100),
    connections: z.record(z.string(), z.string().max(100)),
    options: z.record(z.string(), z.unknown()).optional(),
    cron: timingFields.cron.optional(),
    intervalSeconds: timingFields.intervalSeconds.optional(),
    timeZone: timingFields.timeZone.default('UTC'),
    overlapPolicy: timingFields.overlapPolicy.default('skip'),
    catchupWindowSeconds: timingFields.catchupWindowSeconds.default(3600),
    paused: timingFields.paused.default(false),
    note: note.optional(),
  })
  .strict();

const updateBody = z
  .object({
    name: slug.optional(),
    connections: z.record(z.string(), z.string().max(100)).optional(),
    options: z.record(z.string(), z.unknown()).optional(),
    cron: timingFields.cron
      .nullable()
      .optional()
      .describe('Giving cron or intervalSeconds replaces the timing'),
    intervalSeconds: timingFields.intervalSeconds.nullable().optional(),
    timeZone: timingFields.timeZone.optional(),
    overlapPolicy: timingFields.overlapPolicy.optional(),
    catchupWindowSeconds: timingFields.catchupWindowSeconds.optional(),
    paused: timingFields.paused.optional(),
  })
  .strict();

/** What a schedule's runs are checked against, as a run's request is. */
export const RUN_PROBLEMS: ProblemKind[] = [
  'unknown-integration',
  'invalid-options',
  'unknown-connection-role',
  'missing-connection',
  'unknown-connection',
  'wrong-connection-kind',
];
const TIMING_PROBLEMS: ProblemKind[] = [
  'invalid-cron',
  'unknown-time-zone',
  'interval-below-minimum',
  'invalid-schedule-timing',
];

/** Timing given as a request spells it; keys left undefined are dropped when stored. */
function timingOf(given: { cron?: string | null; intervalSeconds?: number | null; timeZone: string }) {
  return {
    ...(given.cron == null ? {} : { cron: given.cron }),
    ...(given.intervalSeconds == null ? {} : { intervalSeconds: given.intervalSeconds }),
    timeZone: given.timeZone,
  };
}

/** A row's fields with a PATCH applied: cron or intervalSeconds given replaces the timing. */
function patched(row: ScheduleRow, patch: z.infer<typeof updateBody>): ScheduleFields {
  const current = fieldsOf(row);
  const retimed = patch.cron !== undefined || patch.intervalSeconds !== undefined;
  return {
    ...current,
    name: patch.name ?? current.name,
    connections: patch.connections ?? current.connections,
    options: patch.options ?? current.options,
    timing: timingOf({
      cron: retimed ? patch.cron : current.timing.cron,
      intervalSeconds: retimed ? patch.intervalSeconds : current.timing.intervalSeconds,
      timeZone: patch.timeZone ?? current.timing.timeZone,
    }),
    overlapPolicy: patch.overlapPolicy ?? current.overlapPolicy,
    catchupWindowSeconds: patch.catchupWindowSeconds ?? current.catchupWindowSeconds,
    paused: patch.paused ?? current.paused,
  };
}

/** A schedule of an environment the principal sees; 404 otherwise. */
export async function loadSchedule(
  db: Database,
  principal: Principal,
  params: z.infer<typeof scheduleParams>,
) {
  const { org, env } = await visibleEnvironment(db, principal, params);
  const [row] = await db
    .select()
    .from(schedules)
    .where(and(eq(schedules.id, params.schedule), eq(schedules.environmentId, env.id)));
  if (!row) throw notFound(`schedule ${params.schedule}`);
  return { org, env, row };
}

export function scheduleRoutes(deps: ApiDeps): FastifyPluginAsyncZod {
  const scheduleDeps = scheduleDepsOf(deps);

  return async (app) => {
    const base = '/v1/organizations/:org/environments/:env/schedules';

    app.post(
      base,
      {
        schema: {
          operationId: 'createSchedule',
          tags: ['schedules'],
          summary:
            'Create a schedule: a Temporal Schedule in the environment namespace that starts runs of an integration',
          params: envParams,
          body: createBody,
          response: {
            201: jsonResponse('The schedule, created', scheduleSchema),
            ...problemResponses('body', {
              403: ['quota-exceeded'],
              404: ['not-found'],
              409: ['environment-not-active', 'duplicate-schedule'],
              422: [...TIMING_PROBLEMS, ...RUN_PROBLEMS],
            }),
          },
        },
      },
      async (request, reply) => {
        const principal = principalOf(request);
        const { org, env } = await visibleEnvironment(deps.db, principal, request.params);
        const body = request.body;
        const fields: ScheduleFields = {
          name: body.name,
          integration: body.integration,
          connections: body.connections,
          options: body.options ?? {},
          timing: timingOf(body),
          overlapPolicy: body.overlapPolicy,
          catchupWindowSeconds: body.catchupWindowSeconds,
          paused: body.paused,
        };
        const row = await createSchedule(scheduleDeps, env, org.slug, fields, body.note, principal.keyId);
        return reply.code(201).send(scheduleView(scheduleDeps, env, row));
      },
    );

    app.get(
      base,
      {
        schema: {
          operationId: 'listSchedules',
          tags: ['schedules'],
          summary: "List an environment's schedules, by name",
          params: envParams,
          response: {
            200: jsonResponse("The environment's schedules", scheduleListSchema),
            ...problemResponses('input', { 404: ['not-found'] }),
          },
        },
      },
      async (request) => {
        const { env } = await visibleEnvironment(deps.db, principalOf(request), request.params);
        const rows = await deps.db
          .select()
          .from(schedules)
          .where(eq(schedules.environmentId, env.id))
          .orderBy(asc(schedules.name));
        // Rows only: a list never fans out to Temporal.
        return { schedules: rows.map((row) => scheduleView(scheduleDeps, env, row)) };
      },
    );

    app.get(
      `${base}/:schedule`,
      {
        schema: {
          operationId: 'getSchedule',
          tags: ['schedules'],
          summary: "Read a schedule, with Temporal's view of it: paused state, next and recent actions",
          params: scheduleParams,
          response: {
            200: jsonResponse('The schedule', scheduleDetailSchema),
            ...problemResponses('input', { 404: ['not-found'] }),
          },
        },
      },
      async (request) => {
        const { env, row } = await loadSchedule(deps.db, principalOf(request), request.params);
        const temporal = env.status === 'active' ? await describeSchedule(scheduleDeps, env, row) : null;
        return scheduleView(scheduleDeps, env, row, temporal);
      },
    );

    app.patch(
      `${base}/:schedule`,
      {
        schema: {
          operationId: 'updateSchedule',
          tags: ['schedules'],
          summary: 'Change a schedule; its Temporal Schedule is updated in place',
          params: scheduleParams,
          body: updateBody,
          response: {
            200: jsonResponse('The schedule, changed', scheduleSchema),
            ...problemResponses('body', {
              404: ['not-found'],
              409: ['environment-not-active', 'duplicate-schedule', 'schedule-changed'],
              422: [...TIMING_PROBLEMS, ...RUN_PROBLEMS],
            }),
          },
        },
      },
      async (request) => {
        const principal = principalOf(request);
        const { org, env, row } = await loadSchedule(deps.db, principal, request.params);
        const updated = await updateSchedule(
          scheduleDeps,
          env,
          org.slug,
          row,
          patched(row, request.body),
          principal.keyId,
        );
        return scheduleView(scheduleDeps, env, updated);
      },
    );

    app.delete(
      `${base}/:schedule`,
      {
        schema: {
          operationId: 'deleteSchedule',
          tags: ['schedules'],
          summary:
            'Delete a schedule and its Temporal Schedule (one already gone counts as deleted); the runs it started stay listed',
          params: scheduleParams,
          response: {
            200: jsonResponse('The schedule, deleted', scheduleSchema),
            ...problemResponses('body', { 404: ['not-found'], 409: ['environment-not-active'] }),
          },
        },
      },
      async (request) => {
        const principal = principalOf(request);
        const { org, env, row } = await loadSchedule(deps.db, principal, request.params);
        assertEnvironmentActive(org.slug, env);
        // Its runs up to now stay listed like any other; a Temporal Schedule already gone counts as deleted.
        await removeSchedule(deps, env, row, principal.keyId, request.log);
        return scheduleView(scheduleDeps, env, row);
      },
    );
  };
}
