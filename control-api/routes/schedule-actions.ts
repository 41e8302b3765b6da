import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { audit } from '../audit.js';
import { principalOf } from '../auth.js';
import type { ApiDeps } from '../deps.js';
import { unprocessable } from '../problems.js';
import { jsonResponse, problemResponses } from '../openapi.js';
import { scheduleBackfillSchema, scheduleSchema, scheduleTriggeredSchema } from '../openapi-schemas.js';
import { assertActive, fieldsOf, scheduleDepsOf, setPaused } from '../schedules.js';
import type { ScheduleRow } from '../schedules.js';
import { scheduleView } from '../schedule-view.js';
import { firesBetween, temporalOverlap } from '../schedule-spec.js';
import { DAY_SECONDS, loadSchedule, note, scheduleParams, timingFields } from './schedules.js';

/** A backfill covers at most this many days, ending in the past, and starts at most this many runs. */
const BACKFILL_MAX_DAYS = 31;
const BACKFILL_MAX_RUNS = 500;

const noteBody = z.object({ note: note.optional() }).strict();

const backfillBody = z
  .object({
    startAt: z.iso.datetime({ offset: true }),
    endAt: z.iso.datetime({ offset: true }),
    overlapPolicy: timingFields.overlapPolicy
      .optional()
      .describe('buffer_all by default: every time of the range runs, one after another'),
  })
  .strict();

/** What a schedule does on request: pause, resume, trigger now, backfill a past range. */
export function scheduleActionRoutes(deps: ApiDeps): FastifyPluginAsyncZod {
  const scheduleDeps = scheduleDepsOf(deps);
  return async (app) => {
    const base = '/v1/organizations/:org/environments/:env/schedules';

    for (const paused of [true, false]) {
      app.post(
        `${base}/:schedule/${paused ? 'pause' : 'resume'}`,
        {
          schema: {
            operationId: paused ? 'pauseSchedule' : 'resumeSchedule',
            tags: ['schedules'],
            summary: paused
              ? 'Pause a schedule: it starts no run until resumed'
              : 'Resume a paused schedule from its next time',
            params: scheduleParams,
            body: noteBody,
            response: {
              200: jsonResponse(`The schedule, ${paused ? 'paused' : 'resumed'}`, scheduleSchema),
              ...problemResponses('body', {
                404: ['not-found'],
                409: ['environment-not-active', 'schedule-changed'],
              }),
            },
          },
        },
        async (request) => {
          const principal = principalOf(request);
          const { org, env, row } = await loadSchedule(deps.db, principal, request.params);
          const updated = await setPaused(
            scheduleDeps,
            env,
            org.slug,
            row,
            paused,
            request.body.note,
            principal.keyId,
          );
          return scheduleView(scheduleDeps, env, updated);
        },
      );
    }

    app.post(
      `${base}/:schedule/trigger`,
      {
        schema: {
          operationId: 'triggerSchedule',
          tags: ['schedules'],
          summary: "Start a run of the schedule now, under the schedule's overlap policy (paused or not)",
          params: scheduleParams,
          response: {
            202: jsonResponse('The run is being started', scheduleTriggeredSchema),
            ...problemResponses('body', { 404: ['not-found'], 409: ['environment-not-active'] }),
          },
        },
      },
      async (request, reply) => {
        const principal = principalOf(request);
        const { org, env, row } = await loadSchedule(deps.db, principal, request.params);
        assertActive(env, org.slug);
        const triggeredAt = new Date().toISOString();
        await deps.temporal.inNamespace(env.namespace, 'write', (client) =>
          client.schedule
            .getHandle(row.temporalScheduleId)
            .trigger(temporalOverlap(fieldsOf(row).overlapPolicy)),
        );
        await audit(deps.db, {
          actorKeyId: principal.keyId,
          action: 'schedule.triggered',
          organizationId: env.organizationId,
          environmentId: env.id,
          target: row.temporalScheduleId,
          details: { name: row.name, overlapPolicy: row.overlapPolicy },
        });
        return reply.code(202).send({ scheduleId: row.id, overlapPolicy: row.overlapPolicy, triggeredAt });
      },
    );

    app.post(
      `${base}/:schedule/backfill`,
      {
        schema: {
          operationId: 'backfillSchedule',
          tags: ['schedules'],
          summary: `Start the runs of the schedule's times in a past range (at most ${BACKFILL_MAX_DAYS} days and ${BACKFILL_MAX_RUNS} runs)`,
          params: scheduleParams,
          body: backfillBody,
          response: {
            202: jsonResponse('The runs of the range are being started', scheduleBackfillSchema),
            ...problemResponses('body', {
              404: ['not-found'],
              409: ['environment-not-active'],
              422: ['invalid-backfill-range'],
            }),
          },
        },
      },
      async (request, reply) => {
        const principal = principalOf(request);
        const { org, env, row } = await loadSchedule(deps.db, principal, request.params);
        assertActive(env, org.slug);
        const start = new Date(request.body.startAt);
        const end = new Date(request.body.endAt);
        const runs = checkBackfill(row, start, end);
        const overlapPolicy = request.body.overlapPolicy ?? 'buffer_all';
        await deps.temporal.inNamespace(env.namespace, 'write', (client) =>
          client.schedule
            .getHandle(row.temporalScheduleId)
            .backfill({ start, end, overlap: temporalOverlap(overlapPolicy) }),
        );
        const range = { startAt: start.toISOString(), endAt: end.toISOString() };
        await audit(deps.db, {
          actorKeyId: principal.keyId,
          action: 'schedule.backfilled',
          organizationId: env.organizationId,
          environmentId: env.id,
          target: row.temporalScheduleId,
          details: { name: row.name, ...range, overlapPolicy, runs },
        });
        return reply.code(202).send({ scheduleId: row.id, ...range, overlapPolicy, runs });
      },
    );
  };
}

/** A backfill's range: in the past, in order, bounded; answers how many runs it starts. */
function checkBackfill(row: ScheduleRow, start: Date, end: Date): number {
  const refuse = (detail: string) => unprocessable('invalid-backfill-range', detail);
  if (end <= start) throw refuse('endAt must be after startAt');
  if (end.getTime() > Date.now()) throw refuse('endAt is in the future: a backfill covers past times only');
  if (end.getTime() - start.getTime() > BACKFILL_MAX_DAYS * DAY_SECONDS * 1000)
    throw refuse(`the range covers more than ${BACKFILL_MAX_DAYS} days`);
  const runs = firesBetween(row.spec, start, end, BACKFILL_MAX_RUNS);
  if (runs > BACKFILL_MAX_RUNS)
    throw refuse(
      `the range holds more than ${BACKFILL_MAX_RUNS} times of the schedule; backfill it in parts`,
    );
  if (runs === 0) throw refuse('no time of the schedule falls in the range');
  return runs;
}
