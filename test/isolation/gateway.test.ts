import { readFileSync } from 'node:fs';
import { createServer, request } from 'node:http';
import type { IncomingHttpHeaders, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { FIXTURE_HOST } from '../../fixtures/serve.js';
import { RUN_HEADER } from '../../common/gateway-identity.js';
import { FailureType } from '../../common/failures.js';
import { createGatewayHttp } from '../../activities/http.js';
import { withEgressTally } from '../../activities/egress.js';
import { createGatewayCredentials } from '../../workers/gateway-credentials.js';
import { startGatewayInstance } from '../../scripts/stack/gateways.js';
import type { ProxyCredentials } from '../../common/worker-secrets.js';
import { testDatabase } from '../support/database.js';
import { newEnvironment, operatorClient } from '../support/scenario.js';
import type { EnvScenario } from '../support/scenario.js';

/**
 * The region gateway (Squid with the stack's own configuration) refuses what an environment's
 * worker must not reach, whatever the worker's code says. A gateway of its own, on a free port,
 * with the same configuration as the stack's us1 gateway, its ACL helper asking the real control
 * API, and proxy credentials issued the way a region host issues them.
 */

interface ProxyAnswer {
  status: number;
  refusal: string | undefined;
  body: string;
}

let gatewayPort = 0;
let gateway: Awaited<ReturnType<typeof startGatewayInstance>>;
let a: EnvScenario;
let b: EnvScenario;
let credentials: ProxyCredentials;
/** A customer system of environment a's that shows what reached it. */
let echo: Server;
let echoUrl: string;
let lastEcho: IncomingHttpHeaders | undefined;

const basic = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

function viaGateway(
  url: string,
  options: { auth?: string; method?: string; headers?: Record<string, string> } = {},
): Promise<ProxyAnswer> {
  const auth = options.auth ?? basic(credentials.username, credentials.password);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: gatewayPort,
        method: options.method ?? 'GET',
        path: url,
        headers: { 'proxy-authorization': auth, ...options.headers },
        agent: false,
      },
      (res) => {
        let body = '';
        res.on('data', (chunk: Buffer) => (body += chunk.toString()));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            refusal: (res.headers['x-squid-error'] as string | undefined)?.split(' ')[0],
            body,
          }),
        );
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/** Opens a CONNECT tunnel through the gateway; answers the gateway's status. */
function tunnel(target: string): Promise<ProxyAnswer> {
  return new Promise((resolve, reject) => {
    const req = request({
      host: '127.0.0.1',
      port: gatewayPort,
      method: 'CONNECT',
      path: target,
      headers: { 'proxy-authorization': basic(credentials.username, credentials.password) },
      agent: false,
    });
    req.on('connect', (res, socket) => {
      socket.destroy();
      resolve({
        status: res.statusCode ?? 0,
        refusal: (res.headers['x-squid-error'] as string | undefined)?.split(' ')[0],
        body: '',
      });
    });
    req.on('error', reject);
    req.end();
  });
}

beforeAll(async () => {
  [a, b] = await Promise.all([
    newEnvironment('us', { employees: 5 }),
    newEnvironment('us', { employees: 5 }),
  ]);
  echo = createServer((req, res) => {
    lastEcho = req.headers;
    res.end('echo');
  });
  await new Promise<void>((resolve) => echo.listen(0, FIXTURE_HOST, resolve));
  echoUrl = `http://${FIXTURE_HOST}:${(echo.address() as AddressInfo).port}`;
  await a.client.createConnection(a.org, a.env, {
    name: 'echo',
    kind: 'upsert-rest',
    baseUrl: echoUrl,
    credentials: { token: 'echo-token' },
  });

  const hostKey = await operatorClient().createHostKey('us');
  gateway = await startGatewayInstance('us1', {
    controlApiUrl: inject('controlApiUrl'),
    region: 'us',
    key: hostKey.key,
  });
  gatewayPort = Number(new URL(gateway.url).port);
  credentials = await createGatewayCredentials(gateway.files.passwd).issue(a.environment.id);
}, 60_000);

afterAll(async () => {
  gateway?.stop();
  echo?.close();
  await Promise.all([a?.close(), b?.close()]);
});

describe('the region gateway', () => {
  it("carries an environment's request to its own connection's host", async () => {
    const answer = await viaGateway(`${echoUrl}/ping`);
    expect(answer).toEqual({ status: 200, refusal: undefined, body: 'echo' });
  });

  it('asks for credentials of an environment, and refuses wrong or missing ones (407)', async () => {
    expect((await viaGateway(`${echoUrl}/`, { auth: '' })).status).toBe(407);
    expect((await viaGateway(`${echoUrl}/`, { auth: basic(credentials.username, 'wrong') })).status).toBe(
      407,
    );
    // Environment b has no entry: its name alone proves nothing.
    expect((await viaGateway(`${echoUrl}/`, { auth: basic(`e${'0'.repeat(32)}`, 'x') })).status).toBe(407);
  });

  it("refuses another environment's host (403 TAVIO_NOT_REGISTERED)", async () => {
    const answer = await viaGateway(`${b.source.url}/employees`);
    expect([answer.status, answer.refusal]).toEqual([403, 'TAVIO_NOT_REGISTERED']);
    expect(answer.body).toContain("not a host of this environment's connections");
  });

  it.each([
    ['the control API', () => `${inject('controlApiUrl')}/healthz`],
    ['the control API by name', () => `http://localhost:${new URL(inject('controlApiUrl')).port}/healthz`],
    [
      'the control API as IPv4-mapped IPv6',
      () => `http://[::ffff:127.0.0.1]:${new URL(inject('controlApiUrl')).port}/healthz`,
    ],
    [
      'the control API as a decimal address',
      () => `http://2130706433:${new URL(inject('controlApiUrl')).port}/healthz`,
    ],
    ['the cloud metadata address', () => 'http://169.254.169.254/latest/meta-data/'],
    ["another region's gateway", () => inject('stack').gateways.eu1],
  ])('refuses %s (403 TAVIO_NOT_REGISTERED)', async (_what, url) => {
    const answer = await viaGateway(url());
    expect([answer.status, answer.refusal]).toEqual([403, 'TAVIO_NOT_REGISTERED']);
  });

  it.each([
    ['/moto-api/reset-auth', 'POST'],
    ['/moto-api/data.json', 'GET'],
    ['//moto-api/reset-auth', 'POST'],
    ['/%6Doto-api/reset-auth', 'POST'],
    ['/MOTO-API/reset-auth', 'POST'],
  ])("refuses the storage service's admin path %s (403 TAVIO_ADMIN_PATH)", async (path, method) => {
    const answer = await viaGateway(`${inject('stack').awsEndpoint}${path}`, { method });
    expect([answer.status, answer.refusal]).toEqual([403, 'TAVIO_ADMIN_PATH']);
  });

  it('refuses tunnels into the platform: the control database and the storage service (403)', async () => {
    const database = new URL(inject('stack').databaseUrl);
    expect((await tunnel(`127.0.0.1:${database.port}`)).status).toBe(403);
    expect((await tunnel(new URL(inject('stack').awsEndpoint).host)).status).toBe(403);
  });

  it('refuses a registered name that resolves into the platform (403 TAVIO_PLATFORM)', async () => {
    // As if DNS had rebound a customer's name to the platform after the connection was registered.
    const port = new URL(echoUrl).port;
    const database = testDatabase();
    try {
      await database.db.execute(
        sql`insert into connections (environment_id, name, kind, base_url) values (${a.environment.id}, 'rebound', 'upsert-rest', ${`http://localhost:${port}`})`,
      );
    } finally {
      await database.close();
    }
    const answer = await viaGateway(`http://localhost:${port}/healthz`);
    expect([answer.status, answer.refusal]).toEqual([403, 'TAVIO_PLATFORM']);
  });

  it('strips the run header and its own traces before forwarding, and logs the environment and run without the query', async () => {
    lastEcho = undefined;
    const answer = await viaGateway(`${echoUrl}/employees?ssn=123-45-6789&cursor=secret-cursor`, {
      headers: { [RUN_HEADER]: 'hris-employee-sync-test-run' },
    });
    expect(answer.status).toBe(200);
    expect(lastEcho).toBeDefined();
    expect(Object.keys(lastEcho!)).not.toContain(RUN_HEADER);
    expect(Object.keys(lastEcho!)).not.toContain('proxy-authorization');
    expect(Object.keys(lastEcho!)).not.toContain('x-forwarded-for');
    expect(Object.keys(lastEcho!)).not.toContain('via');
    const log = readFileSync(gateway.files.accessLog, 'utf8');
    const line = log.split('\n').find((l) => l.includes('run=hris-employee-sync-test-run'));
    expect(line).toContain(`env=${credentials.username} `);
    expect(line).toContain(`url=${echoUrl}/employees`);
    expect(log).not.toContain('123-45-6789');
    expect(log).not.toContain('secret-cursor');
  });

  it("fails a worker's request it refuses with a non-retryable EgressRefused naming host and reason", async () => {
    const http = createGatewayHttp(`http://127.0.0.1:${gatewayPort}`, 'us1', () => credentials);
    const target = new URL(b.source.url);
    const failure = await withEgressTally(() =>
      // The worker's own allowlist is told to allow it: the gateway still refuses.
      http.fetch(`${b.source.url}/employees`, {}, new Set([target.host])),
    ).then(
      () => undefined,
      (error: { type?: string; message?: string; nonRetryable?: boolean }) => error,
    );
    await http.close();
    expect(failure?.type).toBe(FailureType.EgressRefused);
    expect(failure?.nonRetryable).toBe(true);
    expect(failure?.message).toContain(target.host);
    expect(failure?.message).toContain("not a host of this environment's connections");
  });

  it('refuses everything for an environment that is no longer active', async () => {
    const database = testDatabase();
    try {
      await database.db.execute(
        sql`update environments set status = 'retired' where id = ${a.environment.id}`,
      );
    } finally {
      await database.close();
    }
    // The gateway keeps an allowed answer for five seconds.
    await new Promise((resolve) => setTimeout(resolve, 6_000));
    const later = await viaGateway(`${echoUrl}/after-retirement`);
    expect([later.status, later.refusal]).toEqual([403, 'TAVIO_NOT_REGISTERED']);
  }, 20_000);
});
