import { createHash, randomUUID } from 'node:crypto';
import { ApplicationFailure, WorkflowFailedError } from '@temporalio/client';
import type { Client } from '@temporalio/client';
import { and, eq } from 'drizzle-orm';
import type { ControlApiConfig, Quotas } from '../common/config.js';
import type { Counters } from './limits/counters.js';
import { assertRunRoom, countRunStart, lockQuota, organizationQuotas } from './limits/quotas.js';
import type { Database } from '../db/client.js';
import { runs } from '../db/schema.js';
import type { environments } from '../db/schema.js';
import { INTEGRATIONS, isIntegration } from '../integrations/catalog.js';
import type { RunSummary } from '../integrations/catalog.js';
import { assertMetadataSized } from '../common/payload-guard.js';
import { SA } from '../common/search-attributes.js';
import type { RegionRegistry } from '../common/regions.js';
import { audit } from './audit.js';
import { roleConnection } from './role-connection.js';
import { buildResidency, workerPolling } from './run-placement.js';
import { assertEnvironmentActive, conflict, isUniqueViolation, unprocessable } from './problems.js';
import type { TemporalClients } from './temporal-clients.js';
import { currentPolicy } from './retention/policy.js';
import { LOG_DETAIL_MEMO } from '../common/run-log.js';
import { announceRunClose } from './webhooks/events.js';
import { mappingForRun } from './mappings.js';

type Env = typeof environments.$inferSelect;
type RunRow = typeof runs.$inferSelect;

export interface RunRequest {
  integration: string;
  connections: Record<string, string>;
  options?: Record<string, unknown>;
  idempotencyKey: string;
}

export interface RunDeps {
  db: Database;
  temporal: TemporalClients;
  regions: RegionRegistry;
  temporalUiUrl: string;
  /** The API's address as clients reach it: the links of webhook payloads start with it. */
  publicUrl: string;
  payloadLimitBytes: number;
  /** The configured default quotas, and the counters runs started per minute are counted with. */
  quotas: Quotas;
  counters: Counters;
}

/** What run handling needs, from the control API's database, Temporal clients and configuration. */
export function runDepsOf(deps: {
  db: Database;
  temporal: TemporalClients;
  counters: Counters;
  config: Pick<ControlApiConfig, 'regions' | 'temporalUiUrl' | 'publicUrl' | 'payloadLimitBytes' | 'quotas'>;
}): RunDeps {
  return {
    db: deps.db,
    temporal: deps.temporal,
    regions: deps.config.regions,
    temporalUiUrl: deps.config.temporalUiUrl,
    publicUrl: deps.config.publicUrl,
    payloadLimitBytes: deps.config.payloadLimitBytes,
    quotas: deps.config.quotas,
    counters: deps.counters,
  };
}

const TERMINAL: Record<string, RunRow['status']> = {
  COMPLETED: 'completed',
  FAILED: 'failed',
  CANCELLED: 'canceled',
  TERMINATED: 'terminated',
  TIMED_OUT: 'timed_out',
};

function requestHash(value: unknown): string {
  return createHash('sha256').update(JSON.stringify(value)).digest('hex');
}

/** Checks the request against the catalog and the environment's own connections; changes nothing. */
async function resolveRequest(db: Database, env: Env, request: Omit<RunRequest, 'idempotencyKey'>) {
  if (!isIntegration(request.integration)) {
    throw unprocessable(
      'unknown-integration',
      `integration ${request.integration} does not exist; known: ${Object.keys(INTEGRATIONS).join(', ')}`,
    );
  }
  const integration = INTEGRATIONS[request.integration];
  const options = integration.options.safeParse(request.options ?? {});
  if (!options.success)
    throw unprocessable(
      'invalid-options',
      `options: ${options.error.issues.map((i) => `${i.path.join('.')} ${i.message}`).join('; ')}`,
    );
  const roles = Object.keys(integration.connections);
  const extra = Object.keys(request.connections).filter((role) => !roles.includes(role));
  if (extra.length > 0)
    throw unprocessable(
      'unknown-connection-role',
      `${request.integration} takes connections ${roles.join(', ')}; not ${extra.join(', ')}`,
    );
  const refs: Record<string, { id: string; baseUrl: string }> = {};
  for (const [role, kind] of Object.entries(integration.connections)) {
    const id = request.connections[role];
    if (!id) throw unprocessable('missing-connection', `connection ${role} is required`);
    const row = await roleConnection(db, env, role, kind, id);
    refs[role] = { id: row.id, baseUrl: row.baseUrl };
  }
  return { integration, options: options.data, refs };
}

/**
 * What a run of `request` sends to Temporal, checked against the catalog and the environment's own
 * connections: the workflow type and its arguments (identifiers and options only), and the hash a
 * replayed request is compared by. Changes nothing; shared by runs started by API call and by schedules.
 */
export async function prepareRun(
  deps: Pick<RunDeps, 'db' | 'payloadLimitBytes'>,
  env: Env,
  request: Omit<RunRequest, 'idempotencyKey'>,
) {
  const { integration, options, refs } = await resolveRequest(deps.db, env, request);
  // A pair's declared mapping (names and rules, never values) rides with its sync runs.
  const mapping =
    request.integration === 'hris-employee-sync'
      ? await mappingForRun(deps.db, env.id, { source: refs.source!.id, destination: refs.destination!.id })
      : undefined;
  // Every integration takes its connections by role, and its options.
  const input = {
    source: refs.source!,
    destination: refs.destination!,
    options,
    ...(mapping ? { mapping } : {}),
  };
  assertMetadataSized([input], deps.payloadLimitBytes, `workflow ${integration.workflowType} arguments`);
  return {
    workflowType: integration.workflowType,
    input,
    connectionIds: Object.values(refs).map((ref) => ref.id),
    /** The declared mapping's version the run carries; null: the fixed mapping. */
    mappingVersion: mapping?.version ?? null,
    // Without the mapping: a request replayed after the mapping changed still finds its run.
    hash: requestHash({ integration: request.integration, connections: refs, options }),
  };
}

/** The search attributes every run carries, by which the Web UI and the API find it. */
export function runSearchAttributes(orgSlug: string, env: Env, integration: string) {
  return [
    { key: SA.organization, value: orgSlug },
    { key: SA.environment, value: env.slug },
    { key: SA.region, value: env.region },
    { key: SA.integration, value: integration },
  ];
}

/** Starts a run, or returns the run an earlier request with the same idempotency key started. */
export async function startRun(
  deps: RunDeps,
  env: Env,
  orgSlug: string,
  request: RunRequest,
  actorKeyId: string,
) {
  assertEnvironmentActive(orgSlug, env);
  const prepared = await prepareRun(deps, env, request);
  const existing = await findByIdempotencyKey(deps.db, env.id, request.idempotencyKey);
  if (existing) return { run: checkReplay(existing, prepared.hash), created: false };
  const quotas = await organizationQuotas(deps.db, deps.quotas, env.organizationId);
  await countRunStart(deps.counters, quotas, env.organizationId);

  const id = randomUUID();
  const workflowId = `${request.integration}-${id}`;
  // The run keeps the policy it started under: its version, and its logs' detail.
  const policy = await currentPolicy(deps.db, env.id);
  try {
    // The namespace's token and payload key are in hand before the transaction takes a database
    // connection: getting either may need a connection too, and runs created at once would
    // otherwise hold every pooled connection while each waits for another.
    const run = await deps.temporal.inNamespace(env.namespace, 'write', (client) =>
      deps.db.transaction(async (tx) => {
        await lockQuota(tx, env.id);
        await assertRunRoom(tx, quotas, env.id);
        const [row] = await tx
          .insert(runs)
          .values({
            id,
            environmentId: env.id,
            integration: request.integration,
            workflowId,
            idempotencyKey: request.idempotencyKey,
            requestHash: prepared.hash,
            createdByKeyId: actorKeyId,
            retentionPolicyVersion: policy.version,
            logDetail: policy.runLogDetail,
            mappingVersion: prepared.mappingVersion,
          })
          .returning();
        const handle = await client.workflow.start(prepared.workflowType, {
          taskQueue: deps.regions[env.region].taskQueue,
          workflowId,
          args: [prepared.input],
          typedSearchAttributes: runSearchAttributes(orgSlug, env, request.integration),
          memo: {
            tavioRunId: id,
            connections: prepared.connectionIds,
            retentionPolicyVersion: policy.version,
            [LOG_DETAIL_MEMO]: policy.runLogDetail,
          },
        });
        const [started] = await tx
          .update(runs)
          .set({ temporalRunId: handle.firstExecutionRunId })
          .where(eq(runs.id, id))
          .returning();
        await audit(tx, {
          actorKeyId,
          action: 'run.started',
          organizationId: env.organizationId,
          environmentId: env.id,
          target: workflowId,
          details: { integration: request.integration },
        });
        return started ?? row!;
      }),
    );
    return { run, created: true };
  } catch (error) {
    if (!isUniqueViolation(error)) throw error;
    const raced = await findByIdempotencyKey(deps.db, env.id, request.idempotencyKey);
    return { run: checkReplay(raced!, prepared.hash), created: false };
  }
}

async function findByIdempotencyKey(db: Database, environmentId: string, key: string) {
  const [row] = await db
    .select()
    .from(runs)
    .where(and(eq(runs.environmentId, environmentId), eq(runs.idempotencyKey, key)));
  return row;
}

function checkReplay(row: RunRow, hash: string): RunRow {
  if (row.requestHash !== hash) {
    throw conflict(
      'idempotency-key-reused',
      'this idempotency key was used for a run with different arguments',
    );
  }
  return row;
}

/** A failed run's reason: the innermost failure, by its type when it has one (`SourceAuthRejected: ...`). */
function failureName(error: WorkflowFailedError): string {
  let innermost: Error = error;
  while (innermost.cause instanceof Error) innermost = innermost.cause;
  const type = innermost instanceof ApplicationFailure ? innermost.type : undefined;
  return `${type ?? innermost.name}: ${innermost.message}`;
}

/** Brings a run's status and summary up to date from Temporal; only counts and failure names are kept. */
export async function refreshRun(deps: RunDeps, env: Env, row: RunRow): Promise<RunRow> {
  if (row.status !== 'running') return row;
  const closed = await deps.temporal.inNamespace(env.namespace, 'read', (client) =>
    closedRun(client, deps.regions, env, row),
  );
  if (!closed) return row;
  const { status, summary, failure, residency, closedAt } = closed;
  const updated = await deps.db.transaction(async (tx) => {
    const [moved] = await tx
      .update(runs)
      .set({
        status,
        summary,
        residency,
        failure: failure?.slice(0, 500) ?? null,
        closedAt,
      })
      // Only a row still running moves: another pass, process or a retirement may have closed it.
      .where(and(eq(runs.id, row.id), eq(runs.status, 'running')))
      .returning();
    // The close is announced to the environment's webhook endpoints in the same transaction.
    return moved && (await announceRunClose(tx, deps, env, moved));
  });
  return updated ?? row;
}

/** A closed run's status, summary, failure name and residency; undefined while it runs. */
async function closedRun(client: Client, regions: RegionRegistry, env: Env, row: RunRow) {
  const handle = client.workflow.getHandle(row.workflowId);
  const description = await handle.describe();
  const status = TERMINAL[description.status.name];
  if (!status) return undefined;
  let summary: RunSummary | null = null;
  let failure: string | null = null;
  try {
    summary = (await handle.result()) as RunSummary;
  } catch (error) {
    failure = error instanceof WorkflowFailedError ? failureName(error) : status;
  }
  const residency = await buildResidency(client, regions, env, { ...row, summary }, true);
  return { status, summary, failure, residency, closedAt: description.closeTime ?? new Date() };
}

/** Why a running run makes no progress, when no worker of its region serves its environment. */
export async function waitingReason(deps: RunDeps, env: Env, row: RunRow): Promise<string | null> {
  if (row.status !== 'running') return null;
  const taskQueue = deps.regions[env.region].taskQueue;
  const polling = await deps.temporal.inNamespace(env.namespace, 'read', (client) =>
    workerPolling(client, env.namespace, taskQueue),
  );
  if (polling) return null;
  const why = env.workerProblem ? ` (its region host cannot start it: ${env.workerProblem})` : '';
  return `no worker of region ${env.region} polls task queue ${taskQueue} in namespace ${env.namespace} yet${why}; its region host starts one when the environment has work, and the run waits for it and runs nowhere else`;
}

export function runView(deps: RunDeps, env: Env, row: RunRow, waitingFor: string | null = null) {
  return {
    id: row.id,
    integration: row.integration,
    status: row.status,
    idempotencyKey: row.idempotencyKey,
    namespace: env.namespace,
    taskQueue: deps.regions[env.region].taskQueue,
    region: env.region,
    workflowId: row.workflowId,
    runId: row.temporalRunId,
    webUiUrl: `${deps.temporalUiUrl}/namespaces/${encodeURIComponent(env.namespace)}/workflows/${encodeURIComponent(row.workflowId)}`,
    summary: (row.summary as RunSummary | null) ?? null,
    failure: row.failure,
    waitingFor,
    createdAt: row.createdAt.toISOString(),
    closedAt: row.closedAt?.toISOString() ?? null,
    retentionPolicyVersion: row.retentionPolicyVersion,
    logDetail: row.logDetail,
    mappingVersion: row.mappingVersion,
    scheduleId: row.scheduleId,
  };
}
