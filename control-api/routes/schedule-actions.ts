import { and, between, count, eq } from 'drizzle-orm';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { runs, schedules } from '../../db/schema.js';
import { audit } from '../audit.js';
import { principalOf } from '../auth.js';
import type { ApiDeps } from '../deps.js';
import { assertEnvironmentActive, conflict, notFound, unprocessable } from '../problems.js';
import { jsonResponse, problemResponses } from '../openapi.js';
import { scheduleBackfillSchema, scheduleSchema, scheduleTriggeredSchema } from '../openapi-schemas.js';
import { fieldsOf, scheduleDepsOf, scheduleProblem, setPaused } from '../schedules.js';
import type { ScheduleRow } from '../schedules.js';
import { recordScheduledRuns, scheduledRunKey } from '../scheduled-runs.js';
import { scheduleView } from '../schedule-view.js';
import { firesBetween, temporalOverlap } from '../schedule-spec.js';
import type { OverlapPolicy } from '../schedule-spec.js';
import { DAY_SECONDS, loadSchedule, note, scheduleParams, timingFields } from './schedules.js';

/** A backfill covers at most this many days, ending in the past, and starts at most this many runs. */
const BACKFILL_MAX_DAYS = 31;
const BACKFILL_MAX_RUNS = 500;
/**
 * The overlap policies a backfill may use: those that run its times one at a time. `allow_all`
 * would start every run of the range at once, outside the run quotas; `cancel_other` and
 * `terminate_other` would end each run of the range by the next one.
 */
const BACKFILL_POLICIES: readonly OverlapPolicy[] = ['skip', 'buffer_one', 'buffer_all'];

const noteBody = z.object({ note: note.optional() }).strict();

const backfillBody = z
  .object({
    startAt: z.iso.datetime({ offset: true }),
    endAt: z.iso.datetime({ offset: true }),
    overlapPolicy: timingFields.overlapPolicy
      .optional()
      .describe(
        'buffer_all by default: every time of the range runs, one after another; skip, buffer_one or buffer_all',
      ),
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
        assertEnvironmentActive(org.slug, env);
        const triggeredAt = new Date().toISOString();
        await deps.temporal
          .inNamespace(env.namespace, 'write', (client) =>
            client.schedule
              .getHandle(row.temporalScheduleId)
              .trigger(temporalOverlap(fieldsOf(row).overlapPolicy)),
          )
          .catch((error: unknown) => {
            throw scheduleProblem(error, row);
          });
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
              409: ['environment-not-active', 'backfill-overlaps-runs'],
              422: ['invalid-backfill-range', 'invalid-backfill-policy'],
            }),
          },
        },
      },
      async (request, reply) => {
        const principal = principalOf(request);
        const { org, env, row } = await loadSchedule(deps.db, principal, request.params);
        assertEnvironmentActive(org.slug, env);
        const start = new Date(request.body.startAt);
        const end = new Date(request.body.endAt);
        const overlapPolicy = request.body.overlapPolicy ?? 'buffer_all';
        if (!BACKFILL_POLICIES.includes(overlapPolicy))
          throw unprocessable(
            'invalid-backfill-policy',
            `overlapPolicy: ${overlapPolicy} is not taken by a backfill; give ${BACKFILL_POLICIES.join(', ')}`,
          );
        const fires = checkBackfill(row, start, end);
        // What the schedule started up to now is recorded first, so that the check below sees it.
        await recordScheduledRuns(deps, env, [row]).catch((error: Error) =>
          request.log.warn({ scheduleId: row.id, err: error.message }, 'scheduled runs not recorded'),
        );
        const range = { startAt: start.toISOString(), endAt: end.toISOString() };
        await deps.temporal
          .inNamespace(env.namespace, 'write', (client) =>
            // Backfills of one schedule take turns on its row.
            deps.db.transaction(async (tx) => {
              const [held] = await tx
                .select({ id: schedules.id })
                .from(schedules)
                .where(eq(schedules.id, row.id))
                .for('update');
              if (!held) throw notFound(`schedule ${row.id}`);
              // A scheduled run's key is its schedule and time: the range's keys sort between its ends'.
              const [recorded] = await tx
                .select({ n: count() })
                .from(runs)
                .where(
                  and(
                    eq(runs.environmentId, env.id),
                    eq(runs.scheduleId, row.id),
                    between(
                      runs.idempotencyKey,
                      scheduledRunKey(row.id, start),
                      scheduledRunKey(row.id, end),
                    ),
                  ),
                );
              if (recorded!.n > 0)
                throw conflict(
                  'backfill-overlaps-runs',
                  `the range holds ${recorded!.n} run(s) of schedule ${row.name} already started; backfill only times not run yet`,
                );
              await audit(tx, {
                actorKeyId: principal.keyId,
                action: 'schedule.backfilled',
                organizationId: env.organizationId,
                environmentId: env.id,
                target: row.temporalScheduleId,
                details: { name: row.name, ...range, overlapPolicy, runs: fires },
              });
              await client.schedule
                .getHandle(row.temporalScheduleId)
                .backfill({ start, end, overlap: temporalOverlap(overlapPolicy) });
            }),
          )
          .catch((error: unknown) => {
            throw scheduleProblem(error, row);
          });
        return reply.code(202).send({ scheduleId: row.id, ...range, overlapPolicy, runs: fires });
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
