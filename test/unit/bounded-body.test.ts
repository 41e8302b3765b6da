import type { ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { Agent } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readBodyLimited, readJsonLimited } from '../../activities/bounded-body.js';
import { createEgressHttp } from '../../activities/http.js';
import type { Response } from '../../activities/http.js';
import type { Upstream } from './upstream-server.js';
import { startUpstream, stream, until } from './upstream-server.js';

const MiB = 1024 * 1024;
/** What loopback socket buffers and undici's stream queue may hold beyond what was read. */
const IN_FLIGHT_ALLOWANCE = 16 * MiB;

/** Answer bodies are read against a limit, over real connections and over a counted stream. */
describe('bounded answer bodies', () => {
  let upstream: Upstream;
  const http = createEgressHttp(new Agent());
  const get = (path: string) => http.fetch(`${upstream.url}${path}`, {}, new Set([upstream.host]));

  beforeAll(async () => {
    upstream = await startUpstream();
  });
  afterAll(async () => {
    await upstream.close();
    await http.close();
  });

  /** Serves 64 MiB, with or without a Content-Length; resolves with the bytes written before the client hung up. */
  function serveLarge(withLength: boolean): Promise<number> {
    return new Promise((resolve) => {
      upstream.handle = (_req, res: ServerResponse) => {
        res.writeHead(200, withLength ? { 'content-length': String(64 * MiB) } : {});
        void stream(res, 64 * MiB).then(resolve);
      };
    });
  }

  it('refuses a declared Content-Length over the limit before reading, and closes the connection', async () => {
    const written = serveLarge(true);
    const error = await readJsonLimited(await get('/declared'), MiB, 'source test').catch((e: unknown) => e);
    expect(error).toMatchObject({ type: 'ResponseTooLarge', nonRetryable: true });
    expect((error as Error).message).toBe(
      `source test answered with a declared ${64 * MiB}-byte body, over the ${MiB}-byte limit of one answer`,
    );
    expect(await written).toBeLessThan(IN_FLIGHT_ALLOWANCE);
  });

  it('refuses a chunked body that grows past the limit, without reading the rest', async () => {
    const written = serveLarge(false);
    const response = await get('/chunked');
    expect(response.headers.get('transfer-encoding')).toBe('chunked');
    const error = await readJsonLimited(response, MiB, 'source test').catch((e: unknown) => e);
    expect(error).toMatchObject({ type: 'ResponseTooLarge', nonRetryable: true });
    expect((error as Error).message).toBe(
      `source test answered with a longer body, over the ${MiB}-byte limit of one answer`,
    );
    expect(await written).toBeLessThan(IN_FLIGHT_ALLOWANCE);
  });

  it('pulls no more than the limit and one chunk from the stream, then cancels it', async () => {
    const chunk = new Uint8Array(16 * 1024);
    let pulled = 0;
    let cancelled = false;
    const endless = new Readable({
      highWaterMark: chunk.byteLength,
      read() {
        pulled += chunk.byteLength;
        this.push(chunk);
      },
    });
    const response: Response = {
      status: 200,
      ok: true,
      headers: { get: () => null },
      body: endless,
      cancel: async () => {
        cancelled = true;
        endless.destroy();
      },
    };
    const limit = 100_000;
    const error = await readBodyLimited(response, limit, 'destination test').catch((e: unknown) => e);
    expect(error).toMatchObject({ type: 'ResponseTooLarge', nonRetryable: true });
    expect(cancelled).toBe(true);
    // The stream's queue may hold one chunk ahead of the reader.
    expect(pulled).toBeLessThanOrEqual(limit + 2 * chunk.byteLength);
  });

  it('reads a body of exactly the limit', async () => {
    const body = JSON.stringify({ data: 'x'.repeat(1000) });
    upstream.handle = (_req, res) => res.end(body);
    expect(await readJsonLimited(await get('/exact'), Buffer.byteLength(body), 'source test')).toEqual(
      JSON.parse(body),
    );
    upstream.handle = (_req, res) => res.end(body);
    const error = await readJsonLimited(await get('/over'), Buffer.byteLength(body) - 1, 'source test').catch(
      (e: unknown) => e,
    );
    expect(error).toMatchObject({ type: 'ResponseTooLarge' });
  });

  it('decodes a gzip answer nobody asked for, and counts the decoded bytes against the limit', async () => {
    const body = JSON.stringify({ data: 'x'.repeat(4 * MiB) });
    const packed = gzipSync(body);
    expect(packed.byteLength).toBeLessThan(MiB / 8);
    upstream.handle = (req, res) => {
      // Nothing asks for an encoding: the server sends one anyway.
      res.writeHead(200, { 'content-encoding': 'gzip', 'x-asked': String(req.headers['accept-encoding']) });
      res.end(packed);
    };
    const small = await get('/gzip');
    expect(small.headers.get('x-asked')).toBe('undefined');
    expect(await readJsonLimited(small, 8 * MiB, 'source test')).toEqual(JSON.parse(body));
    upstream.handle = (_req, res) => {
      res.writeHead(200, { 'content-encoding': 'gzip', 'content-length': String(packed.byteLength) });
      res.end(packed);
    };
    const error = await readJsonLimited(await get('/bomb'), MiB, 'source test').catch((e: unknown) => e);
    expect(error).toMatchObject({ type: 'ResponseTooLarge', nonRetryable: true });
  });

  it('refuses a body that is not JSON without quoting it, as a retryable failure', async () => {
    upstream.handle = (_req, res) => res.end('Jane Doe,1987-04-12,123-45-6789');
    const error = await readJsonLimited(await get('/csv'), MiB, 'source test').catch((e: unknown) => e);
    expect(error).toMatchObject({
      type: 'UpstreamUnavailable',
      nonRetryable: false,
      message: 'source test answered with a body that is not JSON',
    });
    expect(JSON.stringify(error) + String((error as Error).stack)).not.toContain('Jane');
  });

  it("ends a body that trickles when the request's deadline passes", async () => {
    upstream.handle = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"data":[');
    };
    const closedBefore = upstream.closedConnections;
    const response = await http.fetch(
      `${upstream.url}/trickle`,
      { signal: AbortSignal.timeout(300) },
      new Set([upstream.host]),
    );
    const started = Date.now();
    const error = await readJsonLimited(response, MiB, `source ${upstream.host}`).catch((e: unknown) => e);
    expect(Date.now() - started).toBeLessThan(1000);
    expect(error).toMatchObject({ type: 'RequestTimedOut', nonRetryable: false });
    await until(() => upstream.closedConnections > closedBefore);
  });
});
