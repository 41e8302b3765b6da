import type { ServerResponse } from 'node:http';
import { Agent } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { MAX_REDIRECTS, createEgressHttp } from '../../activities/http.js';
import type { Upstream } from './upstream-server.js';
import { plainTextAgent, startUpstream, until } from './upstream-server.js';

const redirect = (status: number, location: string) => (_req: unknown, res: ServerResponse) => {
  res.writeHead(status, { location });
  res.end();
};
const ok = (_req: unknown, res: ServerResponse) => {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end('{"ok":true}');
};

const CREDENTIALS = {
  'x-api-key': 'source-key-123',
  authorization: 'Bearer destination-token-123',
  cookie: 'session=abc',
  'proxy-authorization': 'Basic Zm9vOmJhcg==',
  'x-auth-token': 'custom-token-456',
};

/** The redirect rules of createEgressHttp over a direct Agent, against loopback servers. */
describe('egress redirects', () => {
  let a: Upstream;
  let b: Upstream;
  const http = createEgressHttp(new Agent());
  const both = () => new Set([a.host, b.host]);

  beforeAll(async () => {
    [a, b] = await Promise.all([startUpstream(), startUpstream()]);
  });
  afterEach(() => {
    a.seen.length = 0;
    b.seen.length = 0;
  });
  afterAll(async () => {
    await Promise.all([a.close(), b.close()]);
    await http.close();
  });

  it.each([301, 302, 303])(
    'drops credential headers and the body of a POST on a %i to another origin',
    async (status) => {
      a.handle = redirect(status, `${b.url}/landing`);
      b.handle = ok;
      const response = await http.fetch(
        `${a.url}/v1/upload`,
        {
          method: 'POST',
          headers: { ...CREDENTIALS, accept: 'application/json', 'content-type': 'application/json' },
          body: '{"records":[{"national_id":"123-45-6789"}]}',
        },
        both(),
      );
      expect(response.status).toBe(200);
      expect(a.seen[0]).toMatchObject({ method: 'POST', headers: { 'x-api-key': 'source-key-123' } });
      expect(b.seen).toHaveLength(1);
      const landed = b.seen[0]!;
      expect(landed.method).toBe('GET');
      expect(landed.body).toBe('');
      for (const name of [...Object.keys(CREDENTIALS), 'content-type'])
        expect(landed.headers[name]).toBeUndefined();
      expect(landed.headers.accept).toBe('application/json');
    },
  );

  it('drops credentials on a 307 of a GET to another origin, and they stay dropped on the way back', async () => {
    a.handle = (req, res) => (req.url === '/start' ? redirect(307, `${b.url}/hop`)(req, res) : ok(req, res));
    b.handle = redirect(307, `${a.url}/back`);
    await http.fetch(`${a.url}/start`, { headers: CREDENTIALS }, both());
    expect(a.seen.map((s) => s.url)).toEqual(['/start', '/back']);
    expect(a.seen[0]!.headers['x-api-key']).toBe('source-key-123');
    for (const hop of [b.seen[0]!, a.seen[1]!]) {
      for (const name of Object.keys(CREDENTIALS)) expect(hop.headers[name]).toBeUndefined();
    }
  });

  it('keeps the method, body and credentials on a 307 within the same origin', async () => {
    a.handle = (req, res) => (req.url === '/old' ? redirect(307, '/new')(req, res) : ok(req, res));
    await http.fetch(`${a.url}/old`, { method: 'PUT', headers: CREDENTIALS, body: 'same-origin' }, both());
    expect(a.seen[1]).toMatchObject({
      method: 'PUT',
      url: '/new',
      body: 'same-origin',
      headers: { 'x-api-key': 'source-key-123', authorization: 'Bearer destination-token-123' },
    });
  });

  it.each([307, 308])(
    'refuses a %i of a request with a body to another origin, and sends it nothing',
    async (status) => {
      a.handle = redirect(status, `${b.url}/elsewhere`);
      const error = await http
        .fetch(`${a.url}/v1/upload`, { method: 'POST', headers: CREDENTIALS, body: 'records' }, both())
        .catch((e: unknown) => e);
      expect(error).toMatchObject({ type: 'EgressRefused', nonRetryable: true });
      expect((error as Error).message).toBe(
        `redirect ${status} from ${a.host} to ${b.host} refused: it would re-send the request body to another origin`,
      );
      expect(b.seen).toHaveLength(0);
    },
  );

  it(`follows ${MAX_REDIRECTS} redirects and refuses the next one`, async () => {
    a.handle = (req, res) => {
      const hop = Number(req.url?.slice(1));
      return hop < MAX_REDIRECTS ? redirect(302, `/${hop + 1}`)(req, res) : ok(req, res);
    };
    expect((await http.fetch(`${a.url}/0`, {}, both())).status).toBe(200);
    a.seen.length = 0;

    a.handle = (req, res) => redirect(302, `/${Number(req.url?.slice(1)) + 1}`)(req, res);
    const error = await http.fetch(`${a.url}/0`, {}, both()).catch((e: unknown) => e);
    expect(error).toMatchObject({ type: 'EgressRefused', nonRetryable: true });
    expect((error as Error).message).toBe(`more than ${MAX_REDIRECTS} redirects from ${a.host}`);
    expect(a.seen).toHaveLength(MAX_REDIRECTS + 1);
  });

  it('refuses a redirect to a scheme other than http and https', async () => {
    a.handle = redirect(302, 'file:///etc/passwd');
    const error = await http.fetch(`${a.url}/`, {}, both()).catch((e: unknown) => e);
    expect(error).toMatchObject({ type: 'EgressRefused', nonRetryable: true });
  });
});

describe('egress over https', () => {
  let secure: Upstream;
  let plain: Upstream;
  let http: ReturnType<typeof createEgressHttp>;

  beforeAll(async () => {
    [secure, plain] = await Promise.all([startUpstream(), startUpstream()]);
    http = createEgressHttp(plainTextAgent({ 'hris.test': Number(new URL(secure.url).port) }));
  });
  afterEach(() => {
    secure.seen.length = 0;
    plain.seen.length = 0;
  });
  afterAll(async () => {
    await Promise.all([secure.close(), plain.close()]);
    await http.close();
  });

  it.each([
    ['another host', () => `${plain.url}/v1/employees`, () => plain.host],
    ['the same host', () => 'http://hris.test:8443/v1/employees', () => 'hris.test:8443'],
  ])('refuses a redirect from https to http on %s, naming both hosts', async (_what, location, host) => {
    secure.handle = redirect(301, location());
    const allowed = new Set(['hris.test:8443', plain.host]);
    const error = await http
      .fetch('https://hris.test:8443/v1/employees', { headers: CREDENTIALS }, allowed)
      .catch((e: unknown) => e);
    expect(secure.seen).toHaveLength(1);
    expect(error).toMatchObject({ type: 'EgressRefused', nonRetryable: true });
    expect((error as Error).message).toBe(
      `redirect from https://hris.test:8443 to http://${host()} refused: it downgrades to plain HTTP`,
    );
    expect(plain.seen).toHaveLength(0);
  });

  it('follows a redirect from https to https', async () => {
    secure.handle = (req, res) =>
      req.url === '/a' ? redirect(302, 'https://hris.test:8443/b')(req, res) : ok(req, res);
    const response = await http.fetch('https://hris.test:8443/a', {}, new Set(['hris.test:8443']));
    expect(response.status).toBe(200);
  });
});

describe('egress aborts', () => {
  let slow: Upstream;
  const http = createEgressHttp(new Agent());

  beforeAll(async () => {
    // Answers nothing: the connection stays open until the client gives up.
    slow = await startUpstream(() => undefined);
  });
  afterAll(async () => {
    await slow.close();
    await http.close();
  });

  it('ends an in-flight request promptly when its signal aborts, closing the connection', async () => {
    const closedBefore = slow.closedConnections;
    const controller = new AbortController();
    const started = Date.now();
    const pending = http.fetch(slow.url, { signal: controller.signal }, new Set([slow.host]));
    await until(() => slow.seen.length > 0);
    const reason = new Error('attempt cancelled');
    controller.abort(reason);
    await expect(pending).rejects.toBe(reason);
    expect(Date.now() - started).toBeLessThan(1000);
    await until(() => slow.closedConnections > closedBefore);
  });

  it('turns a deadline into a retryable RequestTimedOut naming the host', async () => {
    const started = Date.now();
    const error = await http
      .fetch(slow.url, { signal: AbortSignal.timeout(150) }, new Set([slow.host]))
      .catch((e: unknown) => e);
    expect(Date.now() - started).toBeLessThan(1000);
    expect(error).toMatchObject({
      type: 'RequestTimedOut',
      nonRetryable: false,
      message: `request to ${slow.host} abandoned: the attempt's start-to-close time ran out`,
    });
  });
});
