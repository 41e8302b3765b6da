import { randomUUID } from 'node:crypto';
import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError } from '@temporalio/client';
import type { Client } from '@temporalio/client';
import { and, asc, eq, inArray, or } from 'drizzle-orm';
import { z } from 'zod';
import type { WebhookRetry } from '../../common/config.js';
import type { RegionRegistry } from '../../common/regions.js';
import { SA } from '../../common/search-attributes.js';
import { ATTEMPTS_QUERY, WEBHOOK_WORKFLOW_TYPE, retryDelaySeconds } from '../../common/webhooks.js';
import type { WebhookAttempt, WebhookDeliveryInput, WebhookPayload } from '../../common/webhooks.js';
import type { Database } from '../../db/client.js';
import { transactionLock } from '../../db/locks.js';
import { environments, organizations, webhookDeliveries, webhookEndpoints } from '../../db/schema.js';
import { conflict } from '../problems.js';
import { repeatPass } from '../repeated-pass.js';
import type { TemporalClients } from '../temporal-clients.js';
import { announceUnnotifiedRuns } from './events.js';
import type { EventLinks } from './events.js';

type DeliveryRow = typeof webhookDeliveries.$inferSelect;
type Tx = Parameters<Parameters<Database['transaction']>[0]>[0];
type Env = typeof environments.$inferSelect;

export interface DeliveryDeps {
  db: Database;
  temporal: TemporalClients;
  regions: RegionRegistry;
  retry: WebhookRetry;
  links: EventLinks;
}

export const deliveryView = (row: DeliveryRow) => ({
  id: row.id,
  endpointId: row.endpointId,
  event: row.event,
  eventId: row.eventId,
  status: row.status,
  payload: row.payload as WebhookPayload,
  attempts: row.attempts,
  redeliveryOf: row.redeliveryOf,
  createdAt: row.createdAt.toISOString(),
  completedAt: row.completedAt?.toISOString() ?? null,
});

/** Deliveries handled by one pass at most; the next pass takes the rest. */
const BATCH = 50;
/** How long the collector waits for a running delivery to answer its attempts (its worker may be idle). */
const QUERY_WAIT_MS = 2_000;

/** What the data plane answers is kept only as attempts: times, status codes, latencies, short classes. */
const attemptsSchema = z
  .array(
    z.object({
      at: z.iso.datetime(),
      statusCode: z.number().int().min(100).max(599).nullable(),
      latencyMs: z.number().int().min(0),
      error: z.string().max(100).nullable(),
    }),
  )
  .max(1000);
const resultSchema = z.object({ status: z.enum(['delivered', 'failed']), attempts: attemptsSchema });

/** Ends deliveries that will never be sent (their endpoint deleted, their environment gone). */
async function abandon(db: Database, ids: string[]): Promise<void> {
  if (ids.length === 0) return;
  await db
    .update(webhookDeliveries)
    .set({ status: 'failed', completedAt: new Date() })
    .where(
      and(inArray(webhookDeliveries.id, ids), inArray(webhookDeliveries.status, ['queued', 'delivering'])),
    );
}

/**
 * The delivery workflow's input: the endpoint by id (its URL, which may itself be a credential, is
 * sealed with its signing secret and read by the activity); the schedule of waits and the deadline
 * come from configuration.
 */
function deliveryInput(deps: DeliveryDeps, row: DeliveryRow): WebhookDeliveryInput {
  return {
    deliveryId: row.id,
    endpointId: row.endpointId,
    eventId: row.eventId,
    payload: row.payload as WebhookPayload,
    retryDelaysSeconds: deps.retry.delaysSeconds,
    deadline: new Date(Date.now() + deps.retry.hours * 3_600_000).toISOString(),
  };
}

/**
 * Starts a delivery workflow for each queued delivery, in its environment's namespace on its
 * region's queue, and marks it delivering. A workflow that already exists (a pass that stopped
 * between the start and the mark) counts as started.
 */
export async function dispatchQueued(deps: DeliveryDeps, onError?: (error: Error) => void): Promise<number> {
  const rows = await deps.db
    .select({
      delivery: webhookDeliveries,
      endpoint: webhookEndpoints,
      env: environments,
      orgSlug: organizations.slug,
    })
    .from(webhookDeliveries)
    .innerJoin(webhookEndpoints, eq(webhookEndpoints.id, webhookDeliveries.endpointId))
    .innerJoin(environments, eq(environments.id, webhookDeliveries.environmentId))
    .innerJoin(organizations, eq(organizations.id, environments.organizationId))
    .where(eq(webhookDeliveries.status, 'queued'))
    .orderBy(asc(webhookDeliveries.createdAt))
    .limit(BATCH);
  const gone = rows.filter(({ endpoint, env }) => endpoint.deletedAt !== null || env.status !== 'active');
  await abandon(
    deps.db,
    gone.map(({ delivery }) => delivery.id),
  );
  let started = 0;
  for (const { delivery, env, orgSlug } of rows) {
    if (gone.some((row) => row.delivery.id === delivery.id)) continue;
    try {
      await deps.temporal.inNamespace(env.namespace, 'write', (client) =>
        startDelivery(client, deps, env, orgSlug, deliveryInput(deps, delivery), delivery.workflowId),
      );
    } catch (error) {
      // This environment's namespace cannot be written now: its deliveries wait for the next pass.
      onError?.(error as Error);
      continue;
    }
    const marked = await deps.db
      .update(webhookDeliveries)
      .set({ status: 'delivering' })
      .where(and(eq(webhookDeliveries.id, delivery.id), eq(webhookDeliveries.status, 'queued')))
      .returning({ id: webhookDeliveries.id });
    if (marked.length === 0) {
      // Ended meanwhile (its endpoint deleted, its environment retiring): what was started stops.
      await deps.temporal
        .inNamespace(env.namespace, 'write', (client) =>
          client.workflow.getHandle(delivery.workflowId).cancel(),
        )
        .catch((error: Error) => onError?.(error));
      continue;
    }
    started += 1;
  }
  return started;
}

async function startDelivery(
  client: Client,
  deps: DeliveryDeps,
  env: Env,
  orgSlug: string,
  input: WebhookDeliveryInput,
  workflowId: string,
): Promise<void> {
  try {
    await client.workflow.start(WEBHOOK_WORKFLOW_TYPE, {
      taskQueue: deps.regions[env.region].taskQueue,
      workflowId,
      // A delivery is sent by one execution: a start repeated after it ended sends nothing again.
      workflowIdReusePolicy: 'REJECT_DUPLICATE',
      args: [input],
      typedSearchAttributes: [
        { key: SA.organization, value: orgSlug },
        { key: SA.environment, value: env.slug },
        { key: SA.region, value: env.region },
      ],
    });
  } catch (error) {
    if (!(error instanceof WorkflowExecutionAlreadyStartedError)) throw error;
  }
}

/** The longest a running delivery goes unread: how late a close the attempts did not foretell is seen. */
export const MAX_READ_GAP_MS = 30_000;
/** The first gap after a read that found no new attempt (an attempt in flight, a worker waking up). */
const MIN_READ_GAP_MS = 1_000;

/** When a running delivery is read next, and how many reads in a row found no new attempt. */
export interface ReadMark {
  nextAt: number;
  misses: number;
}
/** Per delivery being delivered: when the collector reads it next. Kept by each collecting process. */
export type ReadMarks = Map<string, ReadMark>;

/**
 * When to read a running delivery next: once its next attempt could have happened (the last
 * attempt's start, its latency, and the wait the retry schedule gives it, plus a second), and at
 * most MAX_READ_GAP_MS after this read. Reads that find no new attempt (one in flight, a worker
 * waking up) back off from a second, doubling.
 */
export function nextReadMark(
  delaysSeconds: readonly number[],
  attempts: readonly WebhookAttempt[],
  previous: ReadMark | undefined,
  grew: boolean,
  now: number,
): ReadMark {
  const last = attempts.at(-1);
  const misses = grew || !previous ? 0 : previous.misses + 1;
  const dueAt =
    grew && last
      ? Date.parse(last.at) +
        last.latencyMs +
        retryDelaySeconds(delaysSeconds, attempts.length - 1) * 1000 +
        MIN_READ_GAP_MS
      : now + MIN_READ_GAP_MS * 2 ** Math.min(misses, 5);
  return { nextAt: Math.min(Math.max(dueAt, now + MIN_READ_GAP_MS), now + MAX_READ_GAP_MS), misses };
}

/** Brings one delivering row up to date from its workflow: attempts so far, or its end. */
async function collectOne(
  client: Client,
  deps: DeliveryDeps,
  row: DeliveryRow,
  marks: ReadMarks,
): Promise<void> {
  const db = deps.db;
  const now = Date.now();
  const handle = client.workflow.getHandle(row.workflowId);
  let description;
  try {
    description = await handle.describe();
  } catch (error) {
    if (error instanceof WorkflowNotFoundError) {
      marks.delete(row.id);
      await abandon(db, [row.id]);
    } else throw error;
    return;
  }
  const status = description.status.name;
  if (status === 'RUNNING') {
    const attempts = attemptsSchema.safeParse(
      await client
        .withDeadline(Date.now() + QUERY_WAIT_MS, () => handle.query<WebhookAttempt[]>(ATTEMPTS_QUERY))
        .catch(() => undefined),
    );
    const grew = attempts.success && attempts.data.length !== row.attempts.length;
    const known = attempts.success ? attempts.data : row.attempts;
    marks.set(row.id, nextReadMark(deps.retry.delaysSeconds, known, marks.get(row.id), grew, now));
    if (grew)
      await db
        .update(webhookDeliveries)
        .set({ attempts: known })
        .where(and(eq(webhookDeliveries.id, row.id), eq(webhookDeliveries.status, 'delivering')));
    return;
  }
  marks.delete(row.id);
  const result = status === 'COMPLETED' ? resultSchema.safeParse(await handle.result()) : undefined;
  await db
    .update(webhookDeliveries)
    .set({
      status: result?.success ? result.data.status : 'failed',
      ...(result?.success ? { attempts: result.data.attempts } : {}),
      completedAt: description.closeTime ?? new Date(),
    })
    .where(and(eq(webhookDeliveries.id, row.id), eq(webhookDeliveries.status, 'delivering')));
}

/**
 * Records, for each delivery being delivered, its attempts (by the workflow's query while it
 * waits to try again) and its end: delivered or failed, with the time it ended. Deliveries of an
 * environment that is no longer active end failed. A running delivery is read only when `marks`
 * says it is due (once its next attempt could have happened, at most every 30 s): its workflow
 * changes only by an attempt, so reading it more often would only keep its worker awake.
 */
export async function collectDeliveries(
  deps: DeliveryDeps,
  onError?: (error: Error) => void,
  marks: ReadMarks = new Map(),
): Promise<void> {
  const rows = await deps.db
    .select({ delivery: webhookDeliveries, env: environments })
    .from(webhookDeliveries)
    .innerJoin(environments, eq(environments.id, webhookDeliveries.environmentId))
    .where(eq(webhookDeliveries.status, 'delivering'))
    .orderBy(asc(webhookDeliveries.createdAt))
    .limit(4 * BATCH);
  await abandon(
    deps.db,
    rows.filter(({ env }) => env.status !== 'active').map(({ delivery }) => delivery.id),
  );
  const now = Date.now();
  const delivering = new Set(rows.map(({ delivery }) => delivery.id));
  // Deliveries another process or path ended are forgotten.
  for (const id of marks.keys()) if (!delivering.has(id)) marks.delete(id);
  await Promise.all(
    rows
      .filter(({ env, delivery }) => env.status === 'active' && (marks.get(delivery.id)?.nextAt ?? 0) <= now)
      .map(({ delivery, env }) =>
        deps.temporal
          .inNamespace(env.namespace, 'read', (client) => collectOne(client, deps, delivery, marks))
          .catch((error: Error) => onError?.(error)),
      ),
  );
}

/**
 * A delivery again: a new row (and workflow) with the same event id and payload, queued now. One
 * at a time: while a delivery of the same event to the same endpoint is queued or delivering, it
 * is refused (409 `redelivery-in-progress`). Checked under a lock on the event and endpoint, so
 * two requests at once queue one.
 */
export async function queueRedelivery(tx: Tx, original: DeliveryRow): Promise<DeliveryRow> {
  await transactionLock(tx, `webhook-redelivery:${original.endpointId}:${original.eventId}`);
  const [pending] = await tx
    .select({ id: webhookDeliveries.id })
    .from(webhookDeliveries)
    .where(
      and(
        eq(webhookDeliveries.endpointId, original.endpointId),
        eq(webhookDeliveries.eventId, original.eventId),
        inArray(webhookDeliveries.status, ['queued', 'delivering']),
      ),
    )
    .limit(1);
  if (pending)
    throw conflict(
      'redelivery-in-progress',
      `event ${original.eventId} is being delivered to endpoint ${original.endpointId} (delivery ${pending.id}); redeliver it once that delivery has ended`,
    );
  const id = randomUUID();
  const [row] = await tx
    .insert(webhookDeliveries)
    .values({
      id,
      endpointId: original.endpointId,
      environmentId: original.environmentId,
      event: original.event,
      eventId: original.eventId,
      payload: original.payload,
      workflowId: `webhook-delivery-${id}`,
      redeliveryOf: original.redeliveryOf ?? original.id,
    })
    .returning();
  return row!;
}

/** The deliveries of an endpoint that have not ended, to stop with it. */
export async function pendingDeliveries(db: Database | Tx, endpointId: string) {
  return db
    .select({
      id: webhookDeliveries.id,
      workflowId: webhookDeliveries.workflowId,
      status: webhookDeliveries.status,
    })
    .from(webhookDeliveries)
    .where(
      and(
        eq(webhookDeliveries.endpointId, endpointId),
        or(eq(webhookDeliveries.status, 'queued'), eq(webhookDeliveries.status, 'delivering')),
      ),
    );
}

/** How often queued deliveries are started and delivering ones read. */
const DISPATCH_EVERY_MS = 1_000;
const COLLECT_EVERY_MS = 2_000;
const CATCH_UP_EVERY_MS = 30_000;

/**
 * In the background: starts queued deliveries, records their attempts and ends, and announces
 * runs that closed without an announcement. Several control API processes may each run it.
 */
export function startWebhookDispatch(deps: DeliveryDeps, onError?: (error: Error) => void) {
  const marks: ReadMarks = new Map();
  const passes = [
    repeatPass(() => dispatchQueued(deps, onError).then(() => undefined), DISPATCH_EVERY_MS, onError),
    repeatPass(() => collectDeliveries(deps, onError, marks), COLLECT_EVERY_MS, onError),
    repeatPass(
      () => announceUnnotifiedRuns(deps.db, deps.links).then(() => undefined),
      CATCH_UP_EVERY_MS,
      onError,
    ),
  ];
  return {
    async stop(): Promise<void> {
      await Promise.all(passes.map((pass) => pass.stop()));
    },
  };
}
