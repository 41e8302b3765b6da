import { randomUUID } from 'node:crypto';
import type { Connection } from '@temporalio/client';
import { SignJWT, generateKeyPair } from 'jose';
import Long from 'long';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { sql } from 'drizzle-orm';
import { createTavioClient } from '../../control-api/client.js';
import { testDatabase } from '../support/database.js';
import type { EnvScenario } from '../support/scenario.js';
import { completedRun, newEnvironment, operatorClient, rawRequest, runRequest } from '../support/scenario.js';
import { signTemporalToken, systemConnection, temporalConnection } from '../support/temporal.js';

const PERMISSION_DENIED = 7;
const UNAUTHENTICATED = 16;

/** The gRPC status Temporal answered a call with; 0 when the call succeeded. */
async function status(call: Promise<unknown>): Promise<number> {
  try {
    await call;
    return 0;
  } catch (error) {
    const code =
      (error as { code?: unknown; cause?: { code?: unknown } }).code ??
      (error as { cause?: { code?: unknown } }).cause?.code;
    if (typeof code !== 'number') throw error;
    return code;
  }
}

const nsOf = (s: EnvScenario) => s.environment.namespace;

/** A token as the host route issues it to region us's host, for one environment's worker. */
async function workerToken(s: EnvScenario): Promise<string> {
  const hostKey = await operatorClient().createHostKey('us');
  const answer = await rawRequest('POST', `/v1/regions/us/environments/${s.environment.id}/temporal-token`, {
    key: hostKey.key,
  });
  expect(answer.status).toBe(200);
  return answer.body.token as string;
}

/**
 * A task token as Temporal's frontend reads it before authorizing (namespace id and workflow id of
 * its protobuf), so that the refusal comes from authorization, not from a malformed token.
 */
function taskTokenFor(namespaceId: string, workflowId: string): Uint8Array {
  const field = (tag: number, value: string) => {
    const bytes = Buffer.from(value, 'utf8');
    return Buffer.concat([Buffer.from([tag, bytes.length]), bytes]);
  };
  return Buffer.concat([field(0x0a, namespaceId), field(0x12, workflowId)]);
}

/** Calls that read, start, signal, stop and serve work in a namespace, as a stranger would try them. */
function callsOn(connection: Connection, namespace: string, workflowId: string, namespaceId = '') {
  const execution = { workflowId };
  return {
    list: () => connection.workflowService.listWorkflowExecutions({ namespace, pageSize: 1 }),
    describe: () => connection.workflowService.describeNamespace({ namespace }),
    history: () => connection.workflowService.getWorkflowExecutionHistory({ namespace, execution }),
    start: () =>
      connection.workflowService.startWorkflowExecution({
        namespace,
        workflowId: `intruder-${randomUUID()}`,
        workflowType: { name: 'hrisEmployeeSync' },
        taskQueue: { name: 'us1' },
        requestId: randomUUID(),
      }),
    signal: () =>
      connection.workflowService.signalWorkflowExecution({
        namespace,
        workflowExecution: execution,
        signalName: 'intrude',
        requestId: randomUUID(),
      }),
    terminate: () =>
      connection.workflowService.terminateWorkflowExecution({
        namespace,
        workflowExecution: execution,
        reason: 'intruder',
      }),
    poll: () =>
      connection.workflowService.pollActivityTaskQueue({
        namespace,
        taskQueue: { name: 'us1' },
        identity: 'intruder',
      }),
    respond: () =>
      connection.workflowService.respondActivityTaskCompleted({
        namespace,
        taskToken: taskTokenFor(namespaceId, workflowId),
        identity: 'intruder',
      }),
  };
}

describe('Temporal authorizes every call by namespace, with its own authorizer', () => {
  let a: EnvScenario;
  let b: EnvScenario;
  let bWorkflowId: string;
  let bNamespaceId: string;

  beforeAll(async () => {
    [a, b] = await Promise.all([
      newEnvironment('us', { employees: 20 }),
      newEnvironment('us', { employees: 20 }),
    ]);
    bWorkflowId = (await completedRun(b)).workflowId;
    const system = await systemConnection();
    bNamespaceId = (await system.workflowService.describeNamespace({ namespace: nsOf(b) })).namespaceInfo!
      .id!;
    await system.close();
  });
  afterAll(async () => {
    await Promise.all([a.close(), b.close()]);
  });

  it('refuses every call that carries no token', async () => {
    const anonymous = await temporalConnection();
    try {
      expect(await status(anonymous.workflowService.listNamespaces({}))).toBe(PERMISSION_DENIED);
      const calls = callsOn(anonymous, nsOf(b), bWorkflowId, bNamespaceId);
      const answers = Object.fromEntries(
        await Promise.all(Object.entries(calls).map(async ([name, call]) => [name, await status(call())])),
      );
      expect(answers).toEqual(
        Object.fromEntries(Object.keys(calls).map((name) => [name, PERMISSION_DENIED])),
      );
    } finally {
      await anonymous.close();
    }
  });

  it("refuses environment A's worker token everywhere in B's namespace, and serves it in A's", async () => {
    const token = await workerToken(a);
    const connection = await temporalConnection(token);
    try {
      const calls = callsOn(connection, nsOf(b), bWorkflowId, bNamespaceId);
      const answers = Object.fromEntries(
        await Promise.all(Object.entries(calls).map(async ([name, call]) => [name, await status(call())])),
      );
      expect(answers).toEqual(
        Object.fromEntries(Object.keys(calls).map((name) => [name, PERMISSION_DENIED])),
      );
      expect(await status(connection.workflowService.describeNamespace({ namespace: nsOf(a) }))).toBe(0);
      expect(
        await status(connection.workflowService.listWorkflowExecutions({ namespace: nsOf(a), pageSize: 1 })),
      ).toBe(0);
    } finally {
      await connection.close();
    }
  });

  it('refuses expired, foreign-signed and malformed tokens', async () => {
    const expired = await signTemporalToken([`${nsOf(a)}:admin`], -60_000);
    const { keys } = (await (
      await fetch(new URL('/.well-known/jwks.json', inject('controlApiUrl')))
    ).json()) as {
      keys: Array<{ kid: string }>;
    };
    // Same kid as a real key, signed by another key: only the signature gives it away.
    const { privateKey } = await generateKeyPair('ES256');
    const forged = await new SignJWT({ permissions: [`${nsOf(a)}:admin`] })
      .setProtectedHeader({ alg: 'ES256', kid: keys.at(-1)!.kid })
      .setSubject('forger')
      .setExpirationTime('10m')
      .sign(privateKey);
    const unsigned = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(
      JSON.stringify({ permissions: ['temporal-system:admin'], exp: Math.floor(Date.now() / 1000) + 600 }),
    ).toString('base64url')}.`;
    for (const token of [expired, forged, unsigned, 'not-a-token']) {
      const connection = await temporalConnection(token).catch((error: unknown) => error);
      if (!('workflowService' in (connection as object))) {
        // An invalid token fails even the connection's own handshake.
        expect([PERMISSION_DENIED, UNAUTHENTICATED]).toContain(await status(Promise.reject(connection)));
        continue;
      }
      const open = connection as Connection;
      try {
        expect([PERMISSION_DENIED, UNAUTHENTICATED]).toContain(
          await status(open.workflowService.describeNamespace({ namespace: nsOf(a) })),
        );
      } finally {
        await open.close();
      }
    }
  });

  it('gives a person a read token for their own namespaces only; the namespace list shows only those', async () => {
    const issued = await a.admin.createTemporalToken(a.org);
    expect(issued).toMatchObject({ role: 'read', namespaces: [nsOf(a)] });
    const connection = await temporalConnection(issued.token);
    try {
      const listed = await connection.workflowService.listNamespaces({});
      expect(listed.namespaces?.map((n) => n.namespaceInfo?.name)).toEqual([nsOf(a)]);
      expect(await status(connection.workflowService.describeNamespace({ namespace: nsOf(a) }))).toBe(0);
      expect(await status(connection.workflowService.describeNamespace({ namespace: nsOf(b) }))).toBe(
        PERMISSION_DENIED,
      );
      // Read means read: the same person cannot start work in their own namespace with it.
      expect(await status(callsOn(connection, nsOf(a), 'none').start())).toBe(PERMISSION_DENIED);
    } finally {
      await connection.close();
    }
  });

  it('issues admin tokens to operators only, and nothing for another organization', async () => {
    const envKeyed = await a.client.createTemporalToken(a.org);
    expect(envKeyed.namespaces).toEqual([nsOf(a)]);
    const refused = await rawRequest('POST', `/v1/organizations/${a.org}/temporal-tokens`, {
      key: a.envKey,
      body: JSON.stringify({ role: 'admin' }),
    });
    expect(refused).toMatchObject({ status: 403, body: { type: 'https://tavio.dev/problems/forbidden' } });
    const foreign = await rawRequest('POST', `/v1/organizations/${b.org}/temporal-tokens`, {
      key: a.adminKey,
      body: '{}',
    });
    expect(foreign.status).toBe(404);
    const operator = await operatorClient().createTemporalToken(a.org, { role: 'admin' });
    expect(operator).toMatchObject({ role: 'admin', namespaces: [nsOf(a)] });
  });

  it('answers worker tokens to the region host of the environment only', async () => {
    const path = `/v1/regions/us/environments/${a.environment.id}/temporal-token`;
    const euHost = await operatorClient().createHostKey('eu');
    expect((await rawRequest('POST', path, { key: euHost.key })).status).toBe(404);
    expect((await rawRequest('POST', path, { key: a.adminKey })).status).toBe(404);
    expect((await rawRequest('POST', path.replace('/us/', '/eu/'), { key: euHost.key })).status).toBe(404);
  });

  it('rotates the signing key with nothing restarted: both keys are published, the new one signs, runs go on', async () => {
    const operator = operatorClient();
    const before = await fetchJwks();
    const rotated = await operator.rotateTemporalSigningKey();
    const during = await fetchJwks();
    expect(during.map((k) => k.kid)).toEqual([...before.map((k) => k.kid), rotated.kid]);
    expect(Date.parse(rotated.previousKeysRetireAt)).toBeGreaterThan(Date.parse(rotated.activatesAt));
    await new Promise((resolve) =>
      setTimeout(resolve, Math.max(0, Date.parse(rotated.activatesAt) - Date.now()) + 500),
    );
    const issued = await a.admin.createTemporalToken(a.org);
    const header = JSON.parse(Buffer.from(issued.token.split('.')[0]!, 'base64url').toString('utf8')) as {
      kid: string;
    };
    expect(header.kid).toBe(rotated.kid);
    const connection = await temporalConnection(issued.token);
    try {
      expect(await status(connection.workflowService.describeNamespace({ namespace: nsOf(a) }))).toBe(0);
    } finally {
      await connection.close();
    }
    const run = await a.client.createRun(a.org, a.env, runRequest(a));
    expect((await a.client.waitForRun(a.org, a.env, run.id)).status).toBe('completed');
  });

  it('never adopts a namespace that someone else registered first', async () => {
    // A name carries the environment's id, unknown before its row exists; so the squatted name is
    // put on an environment whose provisioning is then resumed, as if someone had registered the
    // name between the row and the namespace step.
    const admin = createTavioClient({ baseUrl: inject('controlApiUrl'), apiKey: a.adminKey });
    const environment = await admin.createEnvironment(a.org, 'squat', 'us');
    const squatted = `${a.org}-squat-${randomUUID().slice(0, 8)}`;
    const system = await systemConnection();
    try {
      await system.workflowService.registerNamespace({
        namespace: squatted,
        workflowExecutionRetentionPeriod: { seconds: Long.fromNumber(3600) },
      });
    } finally {
      await system.close();
    }
    const database = testDatabase();
    try {
      await database.db.execute(
        sql`update environments set status = 'failed', namespace = ${squatted}, namespace_registered_at = null where id = ${environment.id}`,
      );
    } finally {
      await database.close();
    }
    const failure = await admin.createEnvironment(a.org, 'squat', 'us').catch((error: unknown) => error);
    expect(failure).toMatchObject({ problem: { status: 502 } });
    const resumed = await admin.getEnvironment(a.org, 'squat');
    expect(resumed.status).toBe('failed');
    expect(resumed.statusReason).toContain(
      `namespace ${squatted} already exists and was not registered for this environment`,
    );
  });
});

async function fetchJwks(): Promise<Array<{ kid: string; kty: string; crv: string }>> {
  const response = await fetch(new URL('/.well-known/jwks.json', inject('controlApiUrl')));
  return ((await response.json()) as { keys: Array<{ kid: string; kty: string; crv: string }> }).keys;
}
