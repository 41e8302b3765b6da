import { and, count, eq, ne } from 'drizzle-orm';
import type { Quotas } from '../../common/config.js';
import type { Database } from '../../db/client.js';
import { transactionLock } from '../../db/locks.js';
import { connections, environments, organizations, runs } from '../../db/schema.js';
import { ProblemError } from '../problems.js';
import type { Counters } from './counters.js';

export type QuotaName = keyof Quotas;
type Executor = Pick<Database, 'select' | 'execute'>;

const LABEL: Record<QuotaName, string> = {
  environments: 'environments',
  connections: 'connections',
  runsPerMinute: 'runs started per minute',
  concurrentRunsPerEnvironment: 'concurrent runs in one environment',
  schedulesPerEnvironment: 'schedules in one environment',
  webhookEndpointsPerEnvironment: 'webhook endpoints in one environment',
};

/** The organization's quotas: the operator's figures for it over the configured defaults. */
export function quotasOf(defaults: Quotas, org: { quotas: Record<string, number> | null }): Quotas {
  return { ...defaults, ...org.quotas };
}

export async function organizationQuotas(db: Executor, defaults: Quotas, organizationId: string) {
  const [org] = await db
    .select({ quotas: organizations.quotas })
    .from(organizations)
    .where(eq(organizations.id, organizationId));
  return quotasOf(defaults, org ?? { quotas: null });
}

/**
 * Refused with 403 when what the organization holds leaves no room (another request will not help),
 * or 429 with `Retry-After` when room comes back with time.
 */
export function quotaExceeded(quota: QuotaName, limit: number, detail: string, retryAfterSeconds?: number) {
  const error = new ProblemError(
    retryAfterSeconds === undefined ? 403 : 429,
    'quota-exceeded',
    'Quota exceeded',
    `${detail}: the organization's quota of ${LABEL[quota]} is ${limit}`,
  );
  error.extensions = { quota, limit };
  if (retryAfterSeconds !== undefined)
    error.headers['retry-after'] = String(Math.max(1, Math.ceil(retryAfterSeconds)));
  return error;
}

/**
 * Serializes the quota checks of one organization (or environment) until the caller's transaction
 * ends, so two requests at once cannot both take the last unit.
 */
export const lockQuota = (tx: Executor, scope: string) => transactionLock(tx, `quota:${scope}`);

async function heldEnvironments(db: Executor, organizationId: string): Promise<number> {
  const [held] = await db
    .select({ n: count() })
    .from(environments)
    .where(and(eq(environments.organizationId, organizationId), ne(environments.status, 'retired')));
  return held!.n;
}

async function heldConnections(db: Executor, organizationId: string): Promise<number> {
  const [held] = await db
    .select({ n: count() })
    .from(connections)
    .innerJoin(environments, eq(connections.environmentId, environments.id))
    .where(eq(environments.organizationId, organizationId));
  return held!.n;
}

/** What the organization holds and has started, against each quota. */
export async function usageOf(db: Executor, counters: Counters, organizationId: string) {
  return {
    environments: await heldEnvironments(db, organizationId),
    connections: await heldConnections(db, organizationId),
    runsThisMinute: (await counters.read(runStartsCounter(organizationId))).current,
  };
}

/** Within a transaction holding the organization's quota lock: refuses an environment beyond the quota. */
export async function assertEnvironmentRoom(tx: Executor, quotas: Quotas, organizationId: string) {
  const held = await heldEnvironments(tx, organizationId);
  if (held >= quotas.environments)
    throw quotaExceeded('environments', quotas.environments, `the organization has ${held} environments`);
}

/** Within a transaction holding the organization's quota lock: refuses a connection beyond the quota. */
export async function assertConnectionRoom(tx: Executor, quotas: Quotas, organizationId: string) {
  const held = await heldConnections(tx, organizationId);
  if (held >= quotas.connections)
    throw quotaExceeded('connections', quotas.connections, `the organization has ${held} connections`);
}

/**
 * Within a transaction holding the environment's quota lock for what it counts: refuses one more
 * schedule or webhook endpoint than the environment may hold (`held`, counted in that transaction).
 */
export function assertEnvironmentHolding(
  quotas: Quotas,
  quota: 'schedulesPerEnvironment' | 'webhookEndpointsPerEnvironment',
  held: number,
) {
  if (held >= quotas[quota])
    throw quotaExceeded(quota, quotas[quota], `the environment has ${held} ${LABEL[quota].split(' in ')[0]}`);
}

const runStartsCounter = (organizationId: string) => `run-starts:${organizationId}`;
const RUNS_RETRY_SECONDS = 10;

/** Counts a run start against the organization's runs per minute; beyond it, 429 until the minute ends. */
export async function countRunStart(counters: Counters, quotas: Quotas, organizationId: string) {
  const window = await counters.increment(runStartsCounter(organizationId), 60_000);
  if (window.current > quotas.runsPerMinute)
    throw quotaExceeded(
      'runsPerMinute',
      quotas.runsPerMinute,
      'the organization started too many runs this minute',
      window.ttl / 1000,
    );
}

/** Within a transaction holding the environment's quota lock: refuses a run beyond its concurrency. */
export async function assertRunRoom(tx: Executor, quotas: Quotas, environmentId: string) {
  const [running] = await tx
    .select({ n: count() })
    .from(runs)
    .where(and(eq(runs.environmentId, environmentId), eq(runs.status, 'running')));
  if (running!.n >= quotas.concurrentRunsPerEnvironment)
    throw quotaExceeded(
      'concurrentRunsPerEnvironment',
      quotas.concurrentRunsPerEnvironment,
      `the environment has ${running!.n} runs running`,
      RUNS_RETRY_SECONDS,
    );
}
