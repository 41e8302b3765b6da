import type { IntegrationName, RunSummary, SummaryOf } from '../integrations/catalog.js';
import type { ResidencyRecord } from './run-placement.js';
import type { RetirementReceipt } from './provisioning/retire.js';
import type { PrefixSweep, RetentionSettings } from '../common/retention.js';
import type { LogDetail, RunLogRecord } from '../common/run-log.js';
import type { DeclaredFields } from '../integrations/hris-employee-sync/declared-mapping.js';

/**
 * Typed client of the control API for applications that start runs programmatically.
 * It depends on nothing but `fetch`.
 */

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail?: string;
  errors?: Array<{ path: string; message: string }>;
}

export class TavioApiError extends Error {
  constructor(
    readonly problem: Problem,
    /** From `Retry-After`, when the API says when to repeat the request (429). */
    readonly retryAfterSeconds?: number,
  ) {
    super(`${problem.status} ${problem.title}: ${problem.detail ?? problem.type}`);
  }
  get status(): number {
    return this.problem.status;
  }
}

export type RunStatus = 'running' | 'completed' | 'failed' | 'canceled' | 'terminated' | 'timed_out';

export interface Run {
  id: string;
  integration: string;
  status: RunStatus;
  idempotencyKey: string;
  namespace: string;
  taskQueue: string;
  region: string;
  workflowId: string;
  runId: string | null;
  webUiUrl: string;
  /** Per integration: counts, sizes and digests once the run completed. */
  summary: RunSummary | null;
  failure: string | null;
  /** Set while a running run has no worker of its region to run on. */
  waitingFor: string | null;
  createdAt: string;
  closedAt: string | null;
  /** The environment's retention policy version when the run started, and its logs' detail. */
  retentionPolicyVersion: number | null;
  logDetail: LogDetail | null;
  /** The version of the connection pair's declared mapping the run carried; null: the fixed mapping. */
  mappingVersion: number | null;
  /** The schedule that started the run; null for a run started by API call. */
  scheduleId: string | null;
}

export type Residency = ResidencyRecord;

export interface Environment {
  id: string;
  organization: string;
  slug: string;
  region: 'us' | 'ca' | 'eu';
  taskQueue: string;
  namespace: string;
  awsRegion: string;
  awsAccountId: string;
  bucket: string;
  keyArn: string | null;
  status: 'provisioning' | 'active' | 'failed' | 'retiring' | 'retired';
  statusReason: string | null;
  createdAt: string;
}

export interface ApiKey {
  id: string;
  kind: 'operator' | 'organization' | 'environment' | 'host';
  prefix: string;
  /** `rotated`: replaced, and working until its overlap ends (`expiresAt`). */
  status: 'active' | 'rotated' | 'expired' | 'revoked';
  organizationId: string | null;
  environmentId: string | null;
  region: 'us' | 'ca' | 'eu' | null;
  createdAt: string;
  lastUsedAt: string | null;
  expiresAt: string | null;
  revokedAt: string | null;
  /** The key that replaced this one. */
  replacedBy: string | null;
}

export interface RotateOptions {
  /** How long the old key keeps working beside the new one; 0 (the default) stops it now. */
  overlapSeconds?: number;
  /** The new key's lifetime; the old key's by default. */
  expiresInDays?: number;
}

export interface IssuedKey {
  id: string;
  prefix: string;
  /** The secret key, shown this once. */
  key: string;
}

export interface Connection {
  id: string;
  name: string;
  kind: string;
  baseUrl: string;
  credentialsVersion: number;
  createdAt: string;
}

/** A token for the standard Temporal CLI and SDKs (`--api-key`), limited to the caller's namespaces. */
export interface TemporalToken {
  token: string;
  expiresAt: string;
  role: 'read' | 'admin';
  namespaces: string[];
}

export interface RetentionPolicy extends RetentionSettings {
  version: number;
  createdAt: string | null;
  createdByKeyId: string | null;
}

export interface DeletionReceipt {
  id: string;
  kind: 'sweep' | 'retirement';
  policyVersion: number | null;
  startedAt: string;
  finishedAt: string;
  objectsDeleted: number;
  bytesDeleted: number;
  prefixes: PrefixSweep[];
  complete: boolean;
}

export type WebhookEventName =
  | 'run.completed'
  | 'run.failed'
  | 'run.canceled'
  | 'run.timed_out'
  | 'run.terminated'
  | 'schedule.paused'
  | 'schedule.resumed';

/** Where an environment's client apps hear of its runs and schedules; never its signing secret. */
export interface WebhookEndpoint {
  id: string;
  url: string;
  events: WebhookEventName[];
  description: string | null;
  secretVersion: number;
  createdAt: string;
  updatedAt: string;
  deletedAt: string | null;
}

/** An endpoint with its signing secret (`whsec_...`), shown this once. */
export interface WebhookEndpointWithSecret extends WebhookEndpoint {
  secret: string;
}

export interface WebhookAttempt {
  at: string;
  /** The receiver's answer; null when it was not reached. */
  statusCode: number | null;
  latencyMs: number;
  /** A short class ('timeout', 'connection refused', 'status 500'...). */
  error: string | null;
}

export interface WebhookDelivery {
  id: string;
  endpointId: string;
  event: WebhookEventName;
  /** The `webhook-id` header: the same for a redelivery. */
  eventId: string;
  status: 'queued' | 'delivering' | 'delivered' | 'failed';
  payload: { type: WebhookEventName; timestamp: string; data: Record<string, unknown> };
  attempts: WebhookAttempt[];
  redeliveryOf: string | null;
  createdAt: string;
  completedAt: string | null;
}

export type OverlapPolicy =
  'skip' | 'buffer_one' | 'buffer_all' | 'cancel_other' | 'terminate_other' | 'allow_all';

/** When a schedule fires: a 5-field cron expression or an interval (one of them), and its time zone. */
export interface ScheduleTiming {
  cron?: string;
  intervalSeconds?: number;
  /** IANA time zone; UTC by default. */
  timeZone?: string;
}

export interface CreateScheduleRequest extends ScheduleTiming {
  name: string;
  integration: string;
  connections: Record<string, string>;
  options?: Record<string, unknown>;
  /** skip by default. */
  overlapPolicy?: OverlapPolicy;
  /** 3600 by default; from 60 s to 7 days. */
  catchupWindowSeconds?: number;
  paused?: boolean;
  note?: string;
}

/** A change of a schedule: giving cron or intervalSeconds replaces its timing. */
export interface UpdateScheduleRequest {
  name?: string;
  connections?: Record<string, string>;
  options?: Record<string, unknown>;
  cron?: string | null;
  intervalSeconds?: number | null;
  timeZone?: string;
  overlapPolicy?: OverlapPolicy;
  catchupWindowSeconds?: number;
  paused?: boolean;
}

export interface Schedule {
  id: string;
  name: string;
  integration: string;
  connections: Record<string, string>;
  options: Record<string, unknown>;
  cron: string | null;
  intervalSeconds: number | null;
  timeZone: string;
  overlapPolicy: OverlapPolicy;
  catchupWindowSeconds: number;
  paused: boolean;
  namespace: string;
  temporalScheduleId: string;
  webUiUrl: string;
  createdAt: string;
  updatedAt: string;
}

/** A schedule read alone: with Temporal's view of it (null when Temporal has no such schedule). */
export interface ScheduleDetail extends Schedule {
  temporal: {
    paused: boolean;
    note: string | null;
    nextActionTimes: string[];
    recentActions: { scheduledAt: string; takenAt: string; workflowId: string }[];
    runningWorkflowIds: string[];
    actionsTaken: number;
    actionsSkippedOverlap: number;
    actionsMissedCatchupWindow: number;
  } | null;
}

/** Where and with what to read a run's log: its region's data plane, a token of a few minutes. */
export interface LogGrant {
  url: string;
  token: string;
  expiresAt: string;
}

export interface LogQuery {
  /** The least level: debug, info, warn or error. */
  level?: RunLogRecord['level'];
  events?: string[];
  since?: string;
  until?: string;
  limit?: number;
  cursor?: string;
}

export interface Quotas {
  environments: number;
  connections: number;
  runsPerMinute: number;
  concurrentRunsPerEnvironment: number;
  schedulesPerEnvironment: number;
  webhookEndpointsPerEnvironment: number;
}

export interface OrganizationQuotas {
  organization: string;
  quotas: Quotas;
  /** The quotas the operator set for this organization; the others are the defaults. */
  overrides: Partial<Quotas>;
  usage: { environments: number; connections: number; runsThisMinute: number };
}

/** A version of a connection pair's declared field mapping: canonical field -> source path and transforms. */
export interface FieldMapping {
  source: string;
  destination: string;
  version: number;
  fields: DeclaredFields;
  createdAt: string;
}

export interface CreateRunRequest {
  integration: string;
  connections: Record<string, string>;
  options?: Record<string, unknown>;
  idempotencyKey: string;
}

/** A followed log's records are remembered this long after the newest, to give each once. */
const REMEMBERED_MS = 5 * 60_000;

const TERMINAL: ReadonlySet<RunStatus> = new Set([
  'completed',
  'failed',
  'canceled',
  'terminated',
  'timed_out',
]);

export function createTavioClient(options: { baseUrl: string; apiKey: string }) {
  async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const response = await fetch(new URL(path, options.baseUrl), {
      method,
      headers: {
        authorization: `Bearer ${options.apiKey}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    const parsed: unknown = text ? JSON.parse(text) : undefined;
    if (!response.ok) {
      const retryAfter = Number(response.headers.get('retry-after') ?? Number.NaN);
      throw new TavioApiError(parsed as Problem, Number.isFinite(retryAfter) ? retryAfter : undefined);
    }
    return parsed as T;
  }
  const env = (org: string, environment: string) => `/v1/organizations/${org}/environments/${environment}`;

  return {
    createOrganization: (slug: string, name?: string) =>
      call<{ organization: { id: string; slug: string; name: string }; apiKey: IssuedKey }>(
        'POST',
        '/v1/organizations',
        { slug, name },
      ),
    getQuotas: (org: string) => call<OrganizationQuotas>('GET', `/v1/organizations/${org}/quotas`),
    /** Operator key only; null returns a quota to the default. */
    setQuotas: (org: string, changes: { [K in keyof Quotas]?: number | null }) =>
      call<OrganizationQuotas>('PATCH', `/v1/organizations/${org}/quotas`, changes),
    createEnvironment: (org: string, slug: string, region: 'us' | 'ca' | 'eu') =>
      call<Environment>('POST', `/v1/organizations/${org}/environments`, { slug, region }),
    listEnvironments: (org: string) =>
      call<{ environments: Environment[] }>('GET', `/v1/organizations/${org}/environments`),
    getEnvironment: (org: string, environment: string) => call<Environment>('GET', env(org, environment)),
    retireEnvironment: (org: string, environment: string) =>
      call<{ environment: Environment; receipt: RetirementReceipt }>('DELETE', env(org, environment)),
    createEnvironmentKey: (org: string, environment: string, options: { expiresInDays?: number } = {}) =>
      call<ApiKey & IssuedKey>('POST', `${env(org, environment)}/api-keys`, options),
    createOrganizationKey: (org: string, options: { expiresInDays?: number } = {}) =>
      call<ApiKey & IssuedKey>('POST', `/v1/organizations/${org}/api-keys`, options),
    /** The organization's admin and environment keys. */
    listApiKeys: (org: string) =>
      call<{ apiKeys: ApiKey[] }>('GET', `/v1/organizations/${org}/api-keys`).then((r) => r.apiKeys),
    revokeApiKey: (org: string, keyId: string) =>
      call<ApiKey>('DELETE', `/v1/organizations/${org}/api-keys/${keyId}`),
    rotateApiKey: (org: string, keyId: string, options: RotateOptions = {}) =>
      call<ApiKey & IssuedKey>('POST', `/v1/organizations/${org}/api-keys/${keyId}/rotate`, options),
    createHostKey: (region: 'us' | 'ca' | 'eu', options: { expiresInDays?: number } = {}) =>
      call<ApiKey & IssuedKey>('POST', '/v1/host-keys', { region, ...options }),
    createOperatorKey: (options: { expiresInDays?: number } = {}) =>
      call<ApiKey & IssuedKey>('POST', '/v1/operator-keys', options),
    /** Operator and region host keys (operator key). */
    listPlatformKeys: (kind?: 'operator' | 'host') =>
      call<{ apiKeys: ApiKey[] }>('GET', `/v1/api-keys${kind ? `?kind=${kind}` : ''}`).then((r) => r.apiKeys),
    revokePlatformKey: (keyId: string) => call<ApiKey>('DELETE', `/v1/api-keys/${keyId}`),
    rotatePlatformKey: (keyId: string, options: RotateOptions = {}) =>
      call<ApiKey & IssuedKey>('POST', `/v1/api-keys/${keyId}/rotate`, options),
    createConnection: (
      org: string,
      environment: string,
      connection: { name: string; kind: string; baseUrl: string; credentials: Record<string, string> },
    ) => call<Connection>('POST', `${env(org, environment)}/connections`, connection),
    listConnections: (org: string, environment: string) =>
      call<{ connections: Connection[] }>('GET', `${env(org, environment)}/connections`).then(
        (r) => r.connections,
      ),
    rotateCredentials: (
      org: string,
      environment: string,
      connectionId: string,
      credentials: Record<string, string>,
    ) =>
      call<Connection>('PUT', `${env(org, environment)}/connections/${connectionId}/credentials`, {
        credentials,
      }),
    createRun: (org: string, environment: string, request: CreateRunRequest) =>
      call<Run>('POST', `${env(org, environment)}/runs`, request),
    getRun: (org: string, environment: string, runId: string) =>
      call<Run>('GET', `${env(org, environment)}/runs/${runId}`),
    listRuns: (org: string, environment: string, limit?: number) =>
      call<{ runs: Run[] }>(
        'GET',
        `${env(org, environment)}/runs${limit === undefined ? '' : `?limit=${limit}`}`,
      ).then((r) => r.runs),
    getResidency: (org: string, environment: string, runId: string) =>
      call<Residency>('GET', `${env(org, environment)}/runs/${runId}/residency`),
    cancelRun: (org: string, environment: string, runId: string) =>
      call<Run>('POST', `${env(org, environment)}/runs/${runId}/cancel`),
    /** Saves the next version of the pair's mapping; runs of the pair carry the newest version. */
    saveMapping: (
      org: string,
      environment: string,
      mapping: { source: string; destination: string; fields: DeclaredFields },
    ) => call<FieldMapping>('PUT', `${env(org, environment)}/mappings`, mapping),
    /** The pair's mapping in force (404 when it has none). */
    getMapping: (org: string, environment: string, source: string, destination: string) =>
      call<FieldMapping>('GET', `${env(org, environment)}/mappings/${source}/${destination}`),
    getMappingVersion: (
      org: string,
      environment: string,
      source: string,
      destination: string,
      version: number,
    ) =>
      call<FieldMapping>(
        'GET',
        `${env(org, environment)}/mappings/${source}/${destination}/versions/${version}`,
      ),
    /** Each mapped pair of the environment, with its mapping in force. */
    listMappings: (org: string, environment: string) =>
      call<{ mappings: FieldMapping[] }>('GET', `${env(org, environment)}/mappings`).then((r) => r.mappings),
    createTemporalToken: (
      org: string,
      request: { environment?: string; role?: 'read' | 'admin'; ttlSeconds?: number } = {},
    ) => call<TemporalToken>('POST', `/v1/organizations/${org}/temporal-tokens`, request),
    getRetention: (org: string, environment: string) =>
      call<RetentionPolicy>('GET', `${env(org, environment)}/retention`),
    /** Replaces the policy; `version` is the one it replaces (409 when another change came first). */
    putRetention: (org: string, environment: string, policy: RetentionSettings & { version: number }) =>
      call<RetentionPolicy>('PUT', `${env(org, environment)}/retention`, policy),
    listRetentionVersions: (org: string, environment: string) =>
      call<{ versions: RetentionPolicy[] }>('GET', `${env(org, environment)}/retention/versions`).then(
        (r) => r.versions,
      ),
    startSweep: (org: string, environment: string) =>
      call<{ policyVersion: number }>('POST', `${env(org, environment)}/retention/sweeps`),
    listDeletionReceipts: (org: string, environment: string) =>
      call<{ receipts: DeletionReceipt[] }>('GET', `${env(org, environment)}/deletion-receipts`).then(
        (r) => r.receipts,
      ),
    /** Registers an endpoint; its signing secret is in this answer only. */
    createWebhookEndpoint: (
      org: string,
      environment: string,
      endpoint: { url: string; events: WebhookEventName[]; description?: string },
    ) => call<WebhookEndpointWithSecret>('POST', `${env(org, environment)}/webhook-endpoints`, endpoint),
    listWebhookEndpoints: (org: string, environment: string) =>
      call<{ endpoints: WebhookEndpoint[] }>('GET', `${env(org, environment)}/webhook-endpoints`).then(
        (r) => r.endpoints,
      ),
    getWebhookEndpoint: (org: string, environment: string, endpointId: string) =>
      call<WebhookEndpoint>('GET', `${env(org, environment)}/webhook-endpoints/${endpointId}`),
    /** A new URL comes with a new signing secret (`secret`), shown once. */
    updateWebhookEndpoint: (
      org: string,
      environment: string,
      endpointId: string,
      changes: { url?: string; events?: WebhookEventName[]; description?: string | null },
    ) =>
      call<WebhookEndpoint & { secret?: string }>(
        'PATCH',
        `${env(org, environment)}/webhook-endpoints/${endpointId}`,
        changes,
      ),
    deleteWebhookEndpoint: (org: string, environment: string, endpointId: string) =>
      call<WebhookEndpoint>('DELETE', `${env(org, environment)}/webhook-endpoints/${endpointId}`),
    rotateWebhookSecret: (org: string, environment: string, endpointId: string) =>
      call<WebhookEndpointWithSecret>(
        'POST',
        `${env(org, environment)}/webhook-endpoints/${endpointId}/rotate-secret`,
      ),
    listWebhookDeliveries: (org: string, environment: string, endpointId: string, limit?: number) =>
      call<{ deliveries: WebhookDelivery[] }>(
        'GET',
        `${env(org, environment)}/webhook-endpoints/${endpointId}/deliveries${limit === undefined ? '' : `?limit=${limit}`}`,
      ).then((r) => r.deliveries),
    getWebhookDelivery: (org: string, environment: string, deliveryId: string) =>
      call<WebhookDelivery>('GET', `${env(org, environment)}/webhook-deliveries/${deliveryId}`),
    redeliverWebhook: (org: string, environment: string, deliveryId: string) =>
      call<WebhookDelivery>('POST', `${env(org, environment)}/webhook-deliveries/${deliveryId}/redeliver`),
    createSchedule: (org: string, environment: string, request: CreateScheduleRequest) =>
      call<Schedule>('POST', `${env(org, environment)}/schedules`, request),
    listSchedules: (org: string, environment: string) =>
      call<{ schedules: Schedule[] }>('GET', `${env(org, environment)}/schedules`).then((r) => r.schedules),
    getSchedule: (org: string, environment: string, scheduleId: string) =>
      call<ScheduleDetail>('GET', `${env(org, environment)}/schedules/${scheduleId}`),
    updateSchedule: (org: string, environment: string, scheduleId: string, changes: UpdateScheduleRequest) =>
      call<Schedule>('PATCH', `${env(org, environment)}/schedules/${scheduleId}`, changes),
    deleteSchedule: (org: string, environment: string, scheduleId: string) =>
      call<Schedule>('DELETE', `${env(org, environment)}/schedules/${scheduleId}`),
    pauseSchedule: (org: string, environment: string, scheduleId: string, note?: string) =>
      call<Schedule>('POST', `${env(org, environment)}/schedules/${scheduleId}/pause`, { note }),
    resumeSchedule: (org: string, environment: string, scheduleId: string, note?: string) =>
      call<Schedule>('POST', `${env(org, environment)}/schedules/${scheduleId}/resume`, { note }),
    /** Starts a run of the schedule now, under its overlap policy. */
    triggerSchedule: (org: string, environment: string, scheduleId: string) =>
      call<{ scheduleId: string; overlapPolicy: OverlapPolicy; triggeredAt: string }>(
        'POST',
        `${env(org, environment)}/schedules/${scheduleId}/trigger`,
      ),
    /** Starts the runs of the schedule's times in a past range (buffer_all by default: one after another). */
    backfillSchedule: (
      org: string,
      environment: string,
      scheduleId: string,
      range: { startAt: string; endAt: string; overlapPolicy?: OverlapPolicy },
    ) =>
      call<{
        scheduleId: string;
        startAt: string;
        endAt: string;
        overlapPolicy: OverlapPolicy;
        runs: number;
      }>('POST', `${env(org, environment)}/schedules/${scheduleId}/backfill`, range),
    createLogGrant: (org: string, environment: string, runId: string) =>
      call<LogGrant>('POST', `${env(org, environment)}/runs/${runId}/log-token`),

    /**
     * One page of a run's log, read from its region's data plane with a fresh grant: records in
     * time order, and the cursor of the next page when the limit cut this one.
     */
    async readRunLog(
      org: string,
      environment: string,
      runId: string,
      query: LogQuery = {},
    ): Promise<{ records: RunLogRecord[]; nextCursor: string | null; resumeCursor: string | null }> {
      const grant = await this.createLogGrant(org, environment, runId);
      return readLogPage(grant, query);
    },

    /**
     * Every record of a run's log, page after page; with `follow`, keeps reading until the run has
     * ended and its last records are read.
     */
    async *tailRunLog(
      org: string,
      environment: string,
      runId: string,
      query: Omit<LogQuery, 'cursor'> & { follow?: boolean; intervalMs?: number } = {},
    ): AsyncGenerator<RunLogRecord> {
      let cursor: string | undefined;
      // Records read again from the resume cursor (chunks not yet settled) are given once: those
      // given in the last minutes are remembered.
      const given = new Map<string, number>();
      for (;;) {
        const ended = TERMINAL.has((await this.getRun(org, environment, runId)).status);
        const grant = await this.createLogGrant(org, environment, runId);
        for (;;) {
          const page = await readLogPage(grant, { ...query, cursor });
          for (const record of page.records) {
            const seen = JSON.stringify(record);
            if (given.has(seen)) continue;
            given.set(seen, Date.parse(record.time));
            yield record;
          }
          cursor = page.nextCursor ?? page.resumeCursor ?? cursor;
          if (!page.nextCursor) break;
        }
        if (!query.follow || ended) return;
        const newest = Math.max(0, ...given.values());
        for (const [seen, at] of given) if (at < newest - REMEMBERED_MS) given.delete(seen);
        await new Promise((resolve) => setTimeout(resolve, query.intervalMs ?? 1000));
      }
    },

    rotateTemporalSigningKey: () =>
      call<{ kid: string; activatesAt: string; previousKeysRetireAt: string }>(
        'POST',
        '/v1/temporal-signing-keys/rotate',
      ),

    /** Polls until the run ends (or the timeout passes) and returns it. */
    async waitForRun(
      org: string,
      environment: string,
      runId: string,
      wait: { timeoutMs?: number; intervalMs?: number } = {},
    ): Promise<Run> {
      const deadline = Date.now() + (wait.timeoutMs ?? 120_000);
      for (;;) {
        let run: Run;
        try {
          run = await this.getRun(org, environment, runId);
        } catch (error) {
          // The API is briefly unavailable (503) or asks to slow down (429): ask again when it says.
          if (
            !(error instanceof TavioApiError) ||
            ![429, 503].includes(error.status) ||
            Date.now() > deadline
          )
            throw error;
          await new Promise((resolve) => setTimeout(resolve, (error.retryAfterSeconds ?? 1) * 1000));
          continue;
        }
        if (TERMINAL.has(run.status)) return run;
        if (Date.now() > deadline)
          throw new Error(`run ${runId} is still ${run.status} after ${wait.timeoutMs ?? 120_000} ms`);
        await new Promise((resolve) => setTimeout(resolve, wait.intervalMs ?? 500));
      }
    },
  };
}
export type TavioClient = ReturnType<typeof createTavioClient>;

/** Reads one page of a run's log from the data-plane URL of a grant. */
async function readLogPage(
  grant: LogGrant,
  query: LogQuery,
): Promise<{ records: RunLogRecord[]; nextCursor: string | null; resumeCursor: string | null }> {
  const url = new URL(grant.url);
  if (query.level) url.searchParams.set('level', query.level);
  if (query.events?.length) url.searchParams.set('event', query.events.join(','));
  if (query.since) url.searchParams.set('since', query.since);
  if (query.until) url.searchParams.set('until', query.until);
  if (query.limit !== undefined) url.searchParams.set('limit', String(query.limit));
  if (query.cursor) url.searchParams.set('cursor', query.cursor);
  const response = await fetch(url, { headers: { authorization: `Bearer ${grant.token}` } });
  const text = await response.text();
  if (!response.ok) throw new TavioApiError(JSON.parse(text) as Problem);
  const records: RunLogRecord[] = [];
  let nextCursor: string | null = null;
  let resumeCursor: string | null = null;
  for (const line of text.split('\n')) {
    if (!line) continue;
    const parsed = JSON.parse(line) as RunLogRecord | { nextCursor: string } | { resumeCursor: string };
    if ('nextCursor' in parsed) nextCursor = parsed.nextCursor;
    else if ('resumeCursor' in parsed) resumeCursor = parsed.resumeCursor;
    else records.push(parsed);
  }
  return { records, nextCursor, resumeCursor };
}

/** A run's summary as its integration shapes it; null until it completes. Throws for a run of another integration. */
export function summaryOf<I extends IntegrationName>(run: Run, integration: I): SummaryOf[I] | null {
  if (run.integration !== integration)
    throw new Error(`run ${run.id} is a run of ${run.integration}, not of ${integration}`);
  return run.summary as SummaryOf[I] | null;
}
