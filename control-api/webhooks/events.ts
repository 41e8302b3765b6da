import { randomUUID } from 'node:crypto';
import { and, eq, gt, isNull, ne, sql } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { environments, organizations, runs, webhookDeliveries, webhookEndpoints } from '../../db/schema.js';
import type { WebhookEvent, WebhookPayload } from '../../common/webhooks.js';

type Tx = Parameters<Parameters<Database['transaction']>[0]>[0];
type Executor = Database | Tx;
type Env = typeof environments.$inferSelect;
type RunRow = typeof runs.$inferSelect;

/** Where the links of a payload point: the API as its clients reach it, and the Temporal Web UI. */
export interface EventLinks {
  publicUrl: string;
  temporalUiUrl: string;
}

/**
 * Queues `event` for every endpoint of the environment that subscribes to it and is not deleted:
 * one delivery row each, in the caller's transaction (an outbox: the change and its announcement
 * commit together), sharing one event id. `dataOf` builds the payload's data (metadata only) from
 * the organization's slug. Answers how many deliveries were queued.
 */
export async function queueEvent(
  tx: Executor,
  env: Env,
  event: WebhookEvent,
  dataOf: (organization: string) => Record<string, unknown>,
  occurredAt: Date = new Date(),
): Promise<number> {
  const endpoints = await tx
    .select({ id: webhookEndpoints.id })
    .from(webhookEndpoints)
    .where(
      and(
        eq(webhookEndpoints.environmentId, env.id),
        isNull(webhookEndpoints.deletedAt),
        sql`${webhookEndpoints.events} @> ${JSON.stringify([event])}::jsonb`,
      ),
    );
  if (endpoints.length === 0) return 0;
  const [org] = await tx
    .select({ slug: organizations.slug })
    .from(organizations)
    .where(eq(organizations.id, env.organizationId));
  const organization = org!.slug;
  const payload: WebhookPayload = {
    type: event,
    timestamp: occurredAt.toISOString(),
    data: { organization, environment: env.slug, ...dataOf(organization) },
  };
  const eventId = `msg_${randomUUID()}`;
  await tx.insert(webhookDeliveries).values(
    endpoints.map((endpoint) => {
      const id = randomUUID();
      return {
        id,
        endpointId: endpoint.id,
        environmentId: env.id,
        event,
        eventId,
        payload,
        workflowId: `webhook-delivery-${id}`,
      };
    }),
  );
  return endpoints.length;
}

/** The numbers of a run's summary: counts, sizes and durations; digests, maps and names are left out. */
export function summaryCounts(summary: unknown): Record<string, number> {
  if (summary === null || typeof summary !== 'object') return {};
  return Object.fromEntries(
    Object.entries(summary).filter((entry): entry is [string, number] => typeof entry[1] === 'number'),
  );
}

/** The failure's type name (`SourceAuthRejected`), never its message. */
export function failureTypeOf(failure: string | null): string | null {
  const name = failure?.split(':', 1)[0]?.trim();
  return name && /^[A-Za-z][A-Za-z0-9_.]{0,99}$/.test(name) ? name : null;
}

const apiPath = (organization: string, env: Env) =>
  `/v1/organizations/${organization}/environments/${env.slug}`;

/** The data of a run's close: ids, status, counts, the failure's type, links. */
export function runEventData(links: EventLinks, env: Env, row: RunRow) {
  return (organization: string) => ({
    runId: row.id,
    integration: row.integration,
    status: row.status,
    summary: summaryCounts(row.summary),
    failureType: failureTypeOf(row.failure),
    scheduleId: row.scheduleId,
    links: {
      run: `${links.publicUrl}${apiPath(organization, env)}/runs/${row.id}`,
      webUi: `${links.temporalUiUrl}/namespaces/${encodeURIComponent(env.namespace)}/workflows/${encodeURIComponent(row.workflowId)}`,
    },
  });
}

/**
 * Announces a run that has just closed, in the transaction that closed it: queues `run.<status>`
 * and records when (`notified_at`). A run already announced is left alone. Answers the row.
 */
export async function announceRunClose(
  tx: Executor,
  links: EventLinks,
  env: Env,
  row: RunRow,
): Promise<RunRow> {
  if (row.status === 'running') return row;
  const [marked] = await tx
    .update(runs)
    .set({ notifiedAt: new Date() })
    .where(and(eq(runs.id, row.id), isNull(runs.notifiedAt)))
    .returning();
  if (!marked) return row;
  await queueEvent(
    tx,
    env,
    `run.${marked.status}` as WebhookEvent,
    runEventData(links, env, marked),
    marked.closedAt ?? new Date(),
  );
  return marked;
}

/**
 * Queues the announcement of `schedule.paused` or `schedule.resumed` in the caller's transaction,
 * for the schedules of an environment. Answers how many deliveries were queued.
 */
export function queueScheduleEvent(
  tx: Executor,
  links: Pick<EventLinks, 'publicUrl'>,
  env: Env,
  event: 'schedule.paused' | 'schedule.resumed',
  schedule: { id: string; name: string },
): Promise<number> {
  return queueEvent(tx, env, event, (organization) => ({
    scheduleId: schedule.id,
    scheduleName: schedule.name,
    links: { schedule: `${links.publicUrl}${apiPath(organization, env)}/schedules/${schedule.id}` },
  }));
}

/** Runs closed longer ago than this without an announcement are not announced any more. */
const CATCH_UP_WINDOW_MS = 60 * 60_000;
const CATCH_UP_BATCH = 100;

/**
 * Announces the runs of active environments that closed in the last hour and were not announced:
 * those another path closed (a row moved outside refreshRun). Several processes may run it: a run
 * is marked and queued once, in one transaction.
 */
export async function announceUnnotifiedRuns(db: Database, links: EventLinks): Promise<number> {
  const rows = await db
    .select({ run: runs, env: environments })
    .from(runs)
    .innerJoin(environments, eq(environments.id, runs.environmentId))
    .where(
      and(
        ne(runs.status, 'running'),
        isNull(runs.notifiedAt),
        gt(runs.closedAt, new Date(Date.now() - CATCH_UP_WINDOW_MS)),
        eq(environments.status, 'active'),
      ),
    )
    .limit(CATCH_UP_BATCH);
  let announced = 0;
  for (const { run, env } of rows) {
    const marked = await db.transaction((tx) => announceRunClose(tx, links, env, run));
    if (marked.notifiedAt) announced += 1;
  }
  return announced;
}
