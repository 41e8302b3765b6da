import createClient from 'openapi-fetch';
import type { IntegrationName, SummaryOf } from '../integrations/catalog.js';
import type { RunLogRecord } from '../common/run-log.js';
import { apiErrorOf, TavioApiError } from './client/errors.js';
import { readLogPage } from './client/run-log.js';
import type { LogPage, LogQuery } from './client/run-log.js';
import type { paths } from './client/schema.js';
import type {
  BackfillRange,
  CreateConnectionRequest,
  CreateRunRequest,
  CreateScheduleRequest,
  CreateWebhookEndpointRequest,
  NewKeyOptions,
  PlatformKeyKind,
  QuotaChanges,
  RetentionChange,
  RotateOptions,
  Run,
  SaveMappingRequest,
  TemporalTokenRequest,
  UpdateScheduleRequest,
  UpdateWebhookEndpointRequest,
} from './client/types.js';

/**
 * Typed client of the control API for applications that start runs programmatically, built with
 * openapi-fetch on the types generated from the committed OpenAPI document (`npm run openapi`):
 * each method is one operation, its request and response shapes the document's. It needs nothing
 * but openapi-fetch and `fetch`.
 */

export { TavioApiError };
export type { LogPage, LogQuery };
export type * from './client/types.js';

/** A followed log's records are remembered this long after the newest, to give each once. */
const REMEMBERED_MS = 5 * 60_000;

const TERMINAL: ReadonlySet<Run['status']> = new Set([
  'completed',
  'failed',
  'canceled',
  'terminated',
  'timed_out',
]);

/** What openapi-fetch answers: the parsed body of a success, or of a refusal. */
interface Answer<D> {
  data?: D;
  error?: unknown;
  response: Response;
}

/** The body of a success; a refusal throws its problem as a TavioApiError. */
async function body<D>(call: Promise<Answer<D>>): Promise<D> {
  const { data, error, response } = await call;
  if (!response.ok) throw apiErrorOf(error, response);
  return data as D;
}

export function createTavioClient(options: { baseUrl: string; apiKey: string }) {
  const api = createClient<paths>({
    baseUrl: new URL(options.baseUrl).origin,
    headers: { authorization: `Bearer ${options.apiKey}` },
    // Read at each call, as a test or an application may replace the global fetch after.
    fetch: (request: Request) => fetch(request),
  });
  const envPath = (org: string, env: string) => ({ params: { path: { org, env } } });
  const runPath = (org: string, env: string, run: string) => ({ params: { path: { org, env, run } } });
  const schedulePath = (org: string, env: string, schedule: string) => ({
    params: { path: { org, env, schedule } },
  });
  const endpointPath = (org: string, env: string, endpoint: string) => ({
    params: { path: { org, env, endpoint } },
  });
  const deliveryPath = (org: string, env: string, delivery: string) => ({
    params: { path: { org, env, delivery } },
  });
  const inEnv = '/v1/organizations/{org}/environments/{env}' as const;

  return {
    createOrganization: (slug: string, name?: string) =>
      body(api.POST('/v1/organizations', { body: { slug, name } })),
    getQuotas: (org: string) =>
      body(api.GET('/v1/organizations/{org}/quotas', { params: { path: { org } } })),
    /** Operator key only; null returns a quota to the default. */
    setQuotas: (org: string, changes: QuotaChanges) =>
      body(api.PATCH('/v1/organizations/{org}/quotas', { params: { path: { org } }, body: changes })),
    createEnvironment: (org: string, slug: string, region: 'us' | 'ca' | 'eu') =>
      body(
        api.POST('/v1/organizations/{org}/environments', {
          params: { path: { org } },
          body: { slug, region },
        }),
      ),
    listEnvironments: (org: string) =>
      body(api.GET('/v1/organizations/{org}/environments', { params: { path: { org } } })),
    getEnvironment: (org: string, environment: string) => body(api.GET(inEnv, envPath(org, environment))),
    retireEnvironment: (org: string, environment: string) =>
      body(api.DELETE(inEnv, envPath(org, environment))),
    createEnvironmentKey: (org: string, environment: string, options: NewKeyOptions = {}) =>
      body(api.POST(`${inEnv}/api-keys`, { ...envPath(org, environment), body: options })),
    createOrganizationKey: (org: string, options: NewKeyOptions = {}) =>
      body(api.POST('/v1/organizations/{org}/api-keys', { params: { path: { org } }, body: options })),
    /** The organization's admin and environment keys. */
    listApiKeys: (org: string) =>
      body(api.GET('/v1/organizations/{org}/api-keys', { params: { path: { org } } })).then((r) => r.apiKeys),
    revokeApiKey: (org: string, keyId: string) =>
      body(api.DELETE('/v1/organizations/{org}/api-keys/{key}', { params: { path: { org, key: keyId } } })),
    rotateApiKey: (org: string, keyId: string, options: RotateOptions = {}) =>
      body(
        api.POST('/v1/organizations/{org}/api-keys/{key}/rotate', {
          params: { path: { org, key: keyId } },
          body: options,
        }),
      ),
    createHostKey: (region: 'us' | 'ca' | 'eu', options: NewKeyOptions = {}) =>
      body(api.POST('/v1/host-keys', { body: { region, ...options } })),
    createOperatorKey: (options: NewKeyOptions = {}) =>
      body(api.POST('/v1/operator-keys', { body: options })),
    /** Operator and region host keys (operator key). */
    listPlatformKeys: (kind?: PlatformKeyKind) =>
      body(api.GET('/v1/api-keys', { params: { query: kind ? { kind } : {} } })).then((r) => r.apiKeys),
    revokePlatformKey: (keyId: string) =>
      body(api.DELETE('/v1/api-keys/{key}', { params: { path: { key: keyId } } })),
    rotatePlatformKey: (keyId: string, options: RotateOptions = {}) =>
      body(api.POST('/v1/api-keys/{key}/rotate', { params: { path: { key: keyId } }, body: options })),
    createConnection: (org: string, environment: string, connection: CreateConnectionRequest) =>
      body(api.POST(`${inEnv}/connections`, { ...envPath(org, environment), body: connection })),
    listConnections: (org: string, environment: string) =>
      body(api.GET(`${inEnv}/connections`, envPath(org, environment))).then((r) => r.connections),
    rotateCredentials: (
      org: string,
      environment: string,
      connectionId: string,
      credentials: Record<string, string>,
    ) =>
      body(
        api.PUT(`${inEnv}/connections/{connection}/credentials`, {
          params: { path: { org, env: environment, connection: connectionId } },
          body: { credentials },
        }),
      ),
    createRun: (org: string, environment: string, request: CreateRunRequest) =>
      body(api.POST(`${inEnv}/runs`, { ...envPath(org, environment), body: request })),
    getRun: (org: string, environment: string, runId: string) =>
      body(api.GET(`${inEnv}/runs/{run}`, runPath(org, environment, runId))),
    /** Counts and elapsed time: from the workflow's progress query while it runs, its summary once closed. */
    getRunProgress: (org: string, environment: string, runId: string) =>
      body(api.GET(`${inEnv}/runs/{run}/progress`, runPath(org, environment, runId))),
    listRuns: (org: string, environment: string, limit?: number) =>
      body(
        api.GET(`${inEnv}/runs`, {
          params: { path: { org, env: environment }, query: limit === undefined ? {} : { limit } },
        }),
      ).then((r) => r.runs),
    getResidency: (org: string, environment: string, runId: string) =>
      body(api.GET(`${inEnv}/runs/{run}/residency`, runPath(org, environment, runId))),
    cancelRun: (org: string, environment: string, runId: string) =>
      body(api.POST(`${inEnv}/runs/{run}/cancel`, runPath(org, environment, runId))),
    /** Saves the next version of the pair's mapping; runs of the pair carry the newest version. */
    saveMapping: (org: string, environment: string, mapping: SaveMappingRequest) =>
      body(api.PUT(`${inEnv}/mappings`, { ...envPath(org, environment), body: mapping })),
    /** The pair's mapping in force (404 when it has none). */
    getMapping: (org: string, environment: string, source: string, destination: string) =>
      body(
        api.GET(`${inEnv}/mappings/{source}/{destination}`, {
          params: { path: { org, env: environment, source, destination } },
        }),
      ),
    getMappingVersion: (
      org: string,
      environment: string,
      source: string,
      destination: string,
      version: number,
    ) =>
      body(
        api.GET(`${inEnv}/mappings/{source}/{destination}/versions/{version}`, {
          params: { path: { org, env: environment, source, destination, version } },
        }),
      ),
    /** Each mapped pair of the environment, with its mapping in force. */
    listMappings: (org: string, environment: string) =>
      body(api.GET(`${inEnv}/mappings`, envPath(org, environment))).then((r) => r.mappings),
    createTemporalToken: (org: string, request: TemporalTokenRequest = {}) =>
      body(api.POST('/v1/organizations/{org}/temporal-tokens', { params: { path: { org } }, body: request })),
    getRetention: (org: string, environment: string) =>
      body(api.GET(`${inEnv}/retention`, envPath(org, environment))),
    /** Replaces the policy; `version` is the one it replaces (409 when another change came first). */
    putRetention: (org: string, environment: string, policy: RetentionChange) =>
      body(api.PUT(`${inEnv}/retention`, { ...envPath(org, environment), body: policy })),
    listRetentionVersions: (org: string, environment: string) =>
      body(api.GET(`${inEnv}/retention/versions`, envPath(org, environment))).then((r) => r.versions),
    startSweep: (org: string, environment: string) =>
      body(api.POST(`${inEnv}/retention/sweeps`, envPath(org, environment))),
    listDeletionReceipts: (org: string, environment: string) =>
      body(api.GET(`${inEnv}/deletion-receipts`, envPath(org, environment))).then((r) => r.receipts),
    /** Registers an endpoint; its signing secret is in this answer only. */
    createWebhookEndpoint: (org: string, environment: string, endpoint: CreateWebhookEndpointRequest) =>
      body(api.POST(`${inEnv}/webhook-endpoints`, { ...envPath(org, environment), body: endpoint })),
    listWebhookEndpoints: (org: string, environment: string) =>
      body(api.GET(`${inEnv}/webhook-endpoints`, envPath(org, environment))).then((r) => r.endpoints),
    getWebhookEndpoint: (org: string, environment: string, endpointId: string) =>
      body(api.GET(`${inEnv}/webhook-endpoints/{endpoint}`, endpointPath(org, environment, endpointId))),
    /** A new URL comes with a new signing secret (`secret`), shown once. */
    updateWebhookEndpoint: (
      org: string,
      environment: string,
      endpointId: string,
      changes: UpdateWebhookEndpointRequest,
    ) =>
      body(
        api.PATCH(`${inEnv}/webhook-endpoints/{endpoint}`, {
          ...endpointPath(org, environment, endpointId),
          body: changes,
        }),
      ),
    deleteWebhookEndpoint: (org: string, environment: string, endpointId: string) =>
      body(api.DELETE(`${inEnv}/webhook-endpoints/{endpoint}`, endpointPath(org, environment, endpointId))),
    rotateWebhookSecret: (org: string, environment: string, endpointId: string) =>
      body(
        api.POST(
          `${inEnv}/webhook-endpoints/{endpoint}/rotate-secret`,
          endpointPath(org, environment, endpointId),
        ),
      ),
    listWebhookDeliveries: (org: string, environment: string, endpointId: string, limit?: number) =>
      body(
        api.GET(`${inEnv}/webhook-endpoints/{endpoint}/deliveries`, {
          params: {
            path: { org, env: environment, endpoint: endpointId },
            query: limit === undefined ? {} : { limit },
          },
        }),
      ).then((r) => r.deliveries),
    getWebhookDelivery: (org: string, environment: string, deliveryId: string) =>
      body(api.GET(`${inEnv}/webhook-deliveries/{delivery}`, deliveryPath(org, environment, deliveryId))),
    redeliverWebhook: (org: string, environment: string, deliveryId: string) =>
      body(
        api.POST(
          `${inEnv}/webhook-deliveries/{delivery}/redeliver`,
          deliveryPath(org, environment, deliveryId),
        ),
      ),
    createSchedule: (org: string, environment: string, request: CreateScheduleRequest) =>
      body(api.POST(`${inEnv}/schedules`, { ...envPath(org, environment), body: request })),
    listSchedules: (org: string, environment: string) =>
      body(api.GET(`${inEnv}/schedules`, envPath(org, environment))).then((r) => r.schedules),
    getSchedule: (org: string, environment: string, scheduleId: string) =>
      body(api.GET(`${inEnv}/schedules/{schedule}`, schedulePath(org, environment, scheduleId))),
    updateSchedule: (org: string, environment: string, scheduleId: string, changes: UpdateScheduleRequest) =>
      body(
        api.PATCH(`${inEnv}/schedules/{schedule}`, {
          ...schedulePath(org, environment, scheduleId),
          body: changes,
        }),
      ),
    deleteSchedule: (org: string, environment: string, scheduleId: string) =>
      body(api.DELETE(`${inEnv}/schedules/{schedule}`, schedulePath(org, environment, scheduleId))),
    pauseSchedule: (org: string, environment: string, scheduleId: string, note?: string) =>
      body(
        api.POST(`${inEnv}/schedules/{schedule}/pause`, {
          ...schedulePath(org, environment, scheduleId),
          body: { note },
        }),
      ),
    resumeSchedule: (org: string, environment: string, scheduleId: string, note?: string) =>
      body(
        api.POST(`${inEnv}/schedules/{schedule}/resume`, {
          ...schedulePath(org, environment, scheduleId),
          body: { note },
        }),
      ),
    /** Starts a run of the schedule now, under its overlap policy. */
    triggerSchedule: (org: string, environment: string, scheduleId: string) =>
      body(api.POST(`${inEnv}/schedules/{schedule}/trigger`, schedulePath(org, environment, scheduleId))),
    /** Starts the runs of the schedule's times in a past range (buffer_all by default: one after another). */
    backfillSchedule: (org: string, environment: string, scheduleId: string, range: BackfillRange) =>
      body(
        api.POST(`${inEnv}/schedules/{schedule}/backfill`, {
          ...schedulePath(org, environment, scheduleId),
          body: range,
        }),
      ),
    createLogGrant: (org: string, environment: string, runId: string) =>
      body(api.POST(`${inEnv}/runs/{run}/log-token`, runPath(org, environment, runId))),

    /**
     * One page of a run's log, read from its region's data plane with a fresh grant: records in
     * time order, and the cursor of the next page when the limit cut this one.
     */
    async readRunLog(
      org: string,
      environment: string,
      runId: string,
      query: LogQuery = {},
    ): Promise<LogPage> {
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

    rotateTemporalSigningKey: () => body(api.POST('/v1/temporal-signing-keys/rotate')),

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

/** A run's summary as its integration shapes it; null until it completes. Throws for a run of another integration. */
export function summaryOf<I extends IntegrationName>(run: Run, integration: I): SummaryOf[I] | null {
  if (run.integration !== integration)
    throw new Error(`run ${run.id} is a run of ${run.integration}, not of ${integration}`);
  return run.summary as SummaryOf[I] | null;
}
