import { randomBytes } from 'node:crypto';
import { Client } from '@temporalio/client';
import type { temporal } from '@temporalio/proto';
import { sql } from 'drizzle-orm';
import { expect, inject } from 'vitest';
import { testDatabase } from './database.js';
import { createTavioClient } from '../../control-api/client.js';
import type { Environment, Run, TavioClient } from '../../control-api/client.js';
import type { RegionCode } from '../../common/regions.js';
import { startHrisSource } from '../../fixtures/hris-source.js';
import type { HrisSource } from '../../fixtures/hris-source.js';
import { startUpsertDestination } from '../../fixtures/upsert-destination.js';
import type { UpsertDestination } from '../../fixtures/upsert-destination.js';
import { openPayloads, systemConnection, withPayloadCodec } from './temporal.js';

/**
 * Takes a test's environment out of service so that region hosts stop its worker. This sets the
 * row only, quicker than the retirement API (tested in retirement.test.ts) and enough for hosts.
 */
async function retireForTests(environmentId: string): Promise<void> {
  const database = testDatabase();
  try {
    await database.db.execute(sql`update environments set status = 'retired' where id = ${environmentId}`);
  } finally {
    await database.close();
  }
}

export const uniqueSlug = (prefix: string) => `${prefix}-${randomBytes(4).toString('hex')}`;

export function operatorClient(): TavioClient {
  return createTavioClient({ baseUrl: inject('controlApiUrl'), apiKey: inject('operatorKey') });
}

export function clientWithKey(apiKey: string): TavioClient {
  return createTavioClient({ baseUrl: inject('controlApiUrl'), apiKey });
}

/** A raw request to the control API, for the cases a typed client cannot express (bad JSON, no key). */
export async function rawRequest(
  method: string,
  path: string,
  options: { key?: string; body?: string; headers?: Record<string, string> } = {},
) {
  const response = await fetch(new URL(path, inject('controlApiUrl')), {
    method,
    headers: {
      ...(options.key ? { authorization: `Bearer ${options.key}` } : {}),
      ...(options.body !== undefined ? { 'content-type': 'application/json' } : {}),
      ...options.headers,
    },
    body: options.body,
  });
  const text = await response.text();
  return {
    status: response.status,
    contentType: response.headers.get('content-type'),
    body: text ? (JSON.parse(text) as Record<string, unknown>) : {},
  };
}

export interface OrgScenario {
  org: string;
  adminKey: string;
  admin: TavioClient;
}

export async function newOrganization(prefix = 'org'): Promise<OrgScenario> {
  const org = uniqueSlug(prefix);
  const { apiKey } = await operatorClient().createOrganization(org);
  return { org, adminKey: apiKey.key, admin: clientWithKey(apiKey.key) };
}

export interface EnvScenario extends OrgScenario {
  env: string;
  environment: Environment;
  envKey: string;
  client: TavioClient;
  source: HrisSource;
  destination: UpsertDestination;
  /** The fixture HRIS's API key, sealed in the source connection. */
  sourceApiKey: string;
  sourceConnectionId: string;
  destinationConnectionId: string;
  close(): Promise<void>;
}

/** An environment in a region, connected to a fixture HRIS and a fixture destination of its own. */
export async function newEnvironment(
  region: RegionCode,
  options: {
    org?: OrgScenario;
    env?: string;
    employees?: number;
    rateLimitEvery?: number;
    /** How the destination slows down or fails batches (see the fixture). */
    destination?: Pick<Parameters<typeof startUpsertDestination>[0], 'delayMs' | 'fault'>;
  } = {},
): Promise<EnvScenario> {
  const orgScenario = options.org ?? (await newOrganization());
  const env = options.env ?? uniqueSlug('env');
  const environment = await orgScenario.admin.createEnvironment(orgScenario.org, env, region);
  const envKey = (await orgScenario.admin.createEnvironmentKey(orgScenario.org, env)).key;
  const client = clientWithKey(envKey);
  const sourceKey = randomBytes(16).toString('hex');
  const token = randomBytes(16).toString('hex');
  const source = await startHrisSource({
    apiKey: sourceKey,
    employees: options.employees ?? 300,
    rateLimitEvery: options.rateLimitEvery ?? 5,
    retryAfterSeconds: 1,
  });
  const destination = await startUpsertDestination({ token, ...options.destination });
  const src = await client.createConnection(orgScenario.org, env, {
    name: 'hris',
    kind: 'hris-rest',
    baseUrl: source.url,
    credentials: { apiKey: sourceKey },
  });
  const dst = await client.createConnection(orgScenario.org, env, {
    name: 'directory',
    kind: 'upsert-rest',
    baseUrl: destination.url,
    credentials: { token },
  });
  return {
    ...orgScenario,
    env,
    environment,
    envKey,
    client,
    source,
    destination,
    sourceApiKey: sourceKey,
    sourceConnectionId: src.id,
    destinationConnectionId: dst.id,
    close: async () => {
      await source.close();
      await destination.close();
      await retireForTests(environment.id);
    },
  };
}

export function runRequest(
  s: EnvScenario,
  overrides: Partial<{ idempotencyKey: string; options: Record<string, unknown> }> = {},
) {
  return {
    integration: 'hris-employee-sync',
    connections: { source: s.sourceConnectionId, destination: s.destinationConnectionId },
    options: overrides.options ?? { pageSize: 50, pagesPerExecution: 3 },
    idempotencyKey: overrides.idempotencyKey ?? uniqueSlug('key'),
  };
}

/** Starts a run through the API with the environment's key and waits for it to complete. */
export async function completedRun(s: EnvScenario): Promise<Run> {
  const run = await s.client.createRun(s.org, s.env, runRequest(s));
  const done = await s.client.waitForRun(s.org, s.env, run.id);
  expect(done.status).toBe('completed');
  return done;
}

/** Every execution (continue-as-new included) of a workflow, as histories, with their payloads opened. */
export async function histories(
  namespace: string,
  workflowId: string,
): Promise<temporal.api.history.v1.IHistory[]> {
  const sealed = await rawHistories(namespace, workflowId);
  return withPayloadCodec(namespace, (codec) => openPayloads(sealed, codec));
}

/** Every execution of a workflow, as Temporal's database holds it: payloads sealed. */
export async function rawHistories(
  namespace: string,
  workflowId: string,
): Promise<temporal.api.history.v1.IHistory[]> {
  const connection = await systemConnection();
  try {
    const client = new Client({ connection, namespace });
    // Listed raw: the client would open each execution's memo, and it holds no payload key.
    const { executions } = await connection.workflowService.listWorkflowExecutions({
      namespace,
      query: `WorkflowId = '${workflowId}'`,
    });
    const result: temporal.api.history.v1.IHistory[] = [];
    for (const execution of executions ?? []) {
      result.push(await client.workflow.getHandle(workflowId, execution.execution!.runId!).fetchHistory());
    }
    return result;
  } finally {
    await connection.close();
  }
}

/**
 * A history as text with every payload decoded (payload bytes arrive as Uint8Array or base64), so
 * fixture values can be searched for.
 */
export function decodedText(history: unknown): string {
  return JSON.stringify(history, (key, value: unknown) => {
    if (value instanceof Uint8Array) return Buffer.from(value).toString('utf8');
    if (key === 'data' && typeof value === 'string') return Buffer.from(value, 'base64').toString('utf8');
    return value;
  });
}
