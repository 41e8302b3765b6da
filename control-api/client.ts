import type { IntegrationName, RunSummary, SummaryOf } from '../integrations/catalog.js';
import type { ResidencyRecord } from './run-placement.js';
import type { RetirementReceipt } from './provisioning/retire.js';

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
  constructor(readonly problem: Problem) {
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
  kind: string;
  prefix: string;
  environmentId: string | null;
  createdAt: string;
  lastUsedAt: string | null;
  expiresAt: string | null;
  revokedAt: string | null;
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

export interface CreateRunRequest {
  integration: string;
  connections: Record<string, string>;
  options?: Record<string, unknown>;
  idempotencyKey: string;
}

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
    if (!response.ok) throw new TavioApiError(parsed as Problem);
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
    createEnvironment: (org: string, slug: string, region: 'us' | 'ca' | 'eu') =>
      call<Environment>('POST', `/v1/organizations/${org}/environments`, { slug, region }),
    getEnvironment: (org: string, environment: string) => call<Environment>('GET', env(org, environment)),
    retireEnvironment: (org: string, environment: string) =>
      call<{ environment: Environment; receipt: RetirementReceipt }>('DELETE', env(org, environment)),
    createEnvironmentKey: (org: string, environment: string, options: { expiresInDays?: number } = {}) =>
      call<ApiKey & IssuedKey>('POST', `${env(org, environment)}/api-keys`, options),
    listApiKeys: (org: string) =>
      call<{ apiKeys: ApiKey[] }>('GET', `/v1/organizations/${org}/api-keys`).then((r) => r.apiKeys),
    revokeApiKey: (org: string, keyId: string) =>
      call<ApiKey>('DELETE', `/v1/organizations/${org}/api-keys/${keyId}`),
    rotateApiKey: (org: string, keyId: string) =>
      call<ApiKey & IssuedKey>('POST', `/v1/organizations/${org}/api-keys/${keyId}/rotate`),
    createHostKey: (region: 'us' | 'ca' | 'eu') =>
      call<IssuedKey & { region: string }>('POST', '/v1/host-keys', { region }),
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
    createTemporalToken: (
      org: string,
      request: { environment?: string; role?: 'read' | 'admin'; ttlSeconds?: number } = {},
    ) => call<TemporalToken>('POST', `/v1/organizations/${org}/temporal-tokens`, request),
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
        const run = await this.getRun(org, environment, runId);
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
