import type { ServerResponse } from 'node:http';
import { CancelledFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { Agent } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { MAX_CURSOR_LENGTH, createHrisSyncActivities } from './activities.js';
import { createEgressHttp } from '../../activities/http.js';
import type { SealedConnection } from '../../common/names.js';
import { generateEmployees } from '../../fixtures/employees.js';
import type { Upstream } from '../../test/unit/upstream-server.js';
import { startUpstream, stream, until } from '../../test/unit/upstream-server.js';

const page = (next: string | null) => JSON.stringify({ data: generateEmployees(2), next_cursor: next });
const answer =
  (body: string, status = 200, headers: Record<string, string> = {}) =>
  (_req: unknown, res: ServerResponse) => {
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(body);
  };
/** Accepts the request and never answers. */
const silent = () => undefined;

/** syncEmployeePage's bounds: answer sizes, cursors, Retry-After, and requests that end with the attempt. */
describe('syncEmployeePage bounds', () => {
  let source: Upstream;
  let destination: Upstream;
  const http = createEgressHttp(new Agent());
  const sealed: Record<string, SealedConnection> = {};
  const activities = createHrisSyncActivities({
    http,
    credentials: { open: async (id) => sealed[id]! },
    responseLimitBytes: 64 * 1024,
  });
  const input = () => ({
    source: { id: 'src', baseUrl: source.url },
    destination: { id: 'dst', baseUrl: destination.url },
    cursor: null,
    pageSize: 2,
  });
  const run = (env = new MockActivityEnvironment({ startToCloseTimeoutMs: 10_000 })) =>
    env.run(activities.syncEmployeePage, input()).catch((e: unknown) => e);

  beforeAll(async () => {
    [source, destination] = await Promise.all([startUpstream(), startUpstream(answer('{"upserted":2}'))]);
    sealed.src = { host: source.host, secrets: { apiKey: 'source-key-123' } };
    sealed.dst = { host: destination.host, secrets: { token: 'destination-token-123' } };
  });
  afterEach(() => {
    source.seen.length = 0;
    destination.seen.length = 0;
    destination.handle = answer('{"upserted":2}');
  });
  afterAll(async () => {
    await Promise.all([source.close(), destination.close()]);
    await http.close();
  });

  it('accepts a cursor of printable ASCII up to the limit', async () => {
    const cursor = 'c'.repeat(MAX_CURSOR_LENGTH - 4) + ' ~!/';
    source.handle = answer(page(cursor));
    expect(await run()).toMatchObject({ read: 2, nextCursor: cursor });
  });

  it.each([
    [
      'longer than the limit',
      `${'123-45-6789 '.repeat(170)}`,
      /cursor of 2040 characters, over the limit of 512$/,
    ],
    ['with a control character', 'abc\u0000def', /cursor that is empty or not printable ASCII$/],
    ['outside ASCII', 'Zoë-123-45-6789', /cursor that is empty or not printable ASCII$/],
    ['empty', '', /cursor that is empty or not printable ASCII$/],
  ])('refuses a cursor %s, without quoting it or loading the page', async (_what, cursor, message) => {
    source.handle = answer(page(cursor));
    const error = await run();
    expect(error).toMatchObject({ type: 'UpstreamValueRefused', nonRetryable: true });
    expect((error as Error).message).toMatch(
      new RegExp(`^source ${source.host} sent a next-page ` + message.source),
    );
    expect(JSON.stringify(error) + (error as Error).message).not.toContain('45-6789');
    expect(destination.seen).toHaveLength(0);
  });

  it('refuses a source page over the response limit', async () => {
    source.handle = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      void stream(res, 32 * 1024 * 1024);
    };
    const error = await run();
    expect(error).toMatchObject({
      type: 'ResponseTooLarge',
      nonRetryable: true,
      message: `source ${source.host} answered with a longer body, over the 65536-byte limit of one answer`,
    });
    expect(destination.seen).toHaveLength(0);
  });

  it('refuses a destination answer over the response limit', async () => {
    source.handle = answer(page(null));
    const body = `{"upserted":2,"echo":"${'x'.repeat(70_000)}"}`;
    destination.handle = answer(body, 200, { 'content-length': String(body.length) });
    expect(await run()).toMatchObject({
      type: 'ResponseTooLarge',
      message: `destination ${destination.host} answered with a declared ${body.length}-byte body, over the 65536-byte limit of one answer`,
    });
  });

  it.each([
    ['seconds', '86400'],
    ['an HTTP date', new Date(Date.now() + 3_600_000).toUTCString()],
  ])('caps the Retry-After of a 429 given in %s at 60 seconds', async (_form, value) => {
    source.handle = answer('{}', 429, { 'retry-after': value });
    expect(await run()).toMatchObject({
      type: 'RateLimited',
      nonRetryable: false,
      nextRetryDelay: '60 seconds',
    });
  });

  it('ends its in-flight request when the activity is cancelled', async () => {
    source.handle = silent;
    const closedBefore = source.closedConnections;
    const env = new MockActivityEnvironment({ startToCloseTimeoutMs: 10_000, heartbeatTimeoutMs: 3_000 });
    const started = Date.now();
    const pending = run(env);
    await until(() => source.seen.length > 0);
    env.cancel();
    const error = await pending;
    expect(error).toBeInstanceOf(CancelledFailure);
    expect(Date.now() - started).toBeLessThan(2000);
    await until(() => source.closedConnections > closedBefore);
  });

  it("ends its in-flight request when the attempt's start-to-close time runs out", async () => {
    source.handle = silent;
    const closedBefore = source.closedConnections;
    const started = Date.now();
    const error = await run(new MockActivityEnvironment({ startToCloseTimeoutMs: 500 }));
    const elapsed = Date.now() - started;
    expect(error).toMatchObject({
      type: 'RequestTimedOut',
      nonRetryable: false,
      message: `request to ${source.host} abandoned: the attempt's start-to-close time ran out`,
    });
    // 500 ms less a tenth: the request ends before Temporal would start the next attempt.
    expect(elapsed).toBeGreaterThanOrEqual(400);
    expect(elapsed).toBeLessThan(700);
    await until(() => source.closedConnections > closedBefore);
  });

  it('heartbeats while it waits on an upstream, and stops when it is done', async () => {
    source.handle = (req, res) => setTimeout(() => answer(page(null))(req, res), 600);
    const env = new MockActivityEnvironment({ startToCloseTimeoutMs: 10_000, heartbeatTimeoutMs: 150 });
    let heartbeats = 0;
    env.on('heartbeat', () => (heartbeats += 1));
    expect(await run(env)).toMatchObject({ read: 2, written: 2 });
    // One at the start, then one every 50 ms for 600 ms.
    expect(heartbeats).toBeGreaterThanOrEqual(6);
    const after = heartbeats;
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(heartbeats).toBe(after);
  });
});
