import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { MockActivityEnvironment } from '@temporalio/testing';
import { ApplicationFailure } from '@temporalio/common';
import { Agent } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHrisSyncActivities } from './activities.js';
import { createEgressHttp } from '../../activities/http.js';
import type { SealedConnection } from '../../common/names.js';
import { activityFailureScrubber, activityPayloadGuard } from '../../workers/activity-guard.js';
import { startHrisSource } from '../../fixtures/hris-source.js';
import type { HrisSource } from '../../fixtures/hris-source.js';
import { startUpsertDestination } from '../../fixtures/upsert-destination.js';
import type { UpsertDestination } from '../../fixtures/upsert-destination.js';

/**
 * The activity alone, against the fixture systems: the egress rules over a direct connection
 * instead of the gateway, and sealed connections held in memory instead of the vault.
 */
describe('syncEmployeePage', () => {
  let source: HrisSource;
  let hostile: HrisSource;
  let destination: UpsertDestination;
  const http = createEgressHttp(new Agent());
  const sealed: Record<string, SealedConnection> = {};
  const activities = createHrisSyncActivities({ http, credentials: { open: async (id) => sealed[id]! } });
  const input = (sourceId = 'src') => ({
    source: { id: sourceId, baseUrl: sourceId === 'hostile' ? hostile.url : source.url },
    destination: { id: 'dst', baseUrl: destination.url },
    cursor: null,
    pageSize: 50,
  });
  const host = (url: string) => new URL(url).host;

  beforeAll(async () => {
    source = await startHrisSource({
      apiKey: 'source-key-123',
      employees: 120,
      rateLimitEvery: 4,
      retryAfterSeconds: 3,
    });
    destination = await startUpsertDestination({ token: 'destination-token-123' });
    const elsewhere = await startUpsertDestination({ token: 'unused-token-000' });
    hostile = await startHrisSource({ apiKey: 'hostile-key-123', redirectTo: elsewhere.url });
    sealed.src = { host: host(source.url), secrets: { apiKey: 'source-key-123' } };
    sealed.dst = { host: host(destination.url), secrets: { token: 'destination-token-123' } };
    sealed.hostile = { host: host(hostile.url), secrets: { apiKey: 'hostile-key-123' } };
    sealed.wrong = { host: host(source.url), secrets: { apiKey: 'wrong-key-000' } };
  });
  afterAll(async () => {
    await Promise.all([source.close(), destination.close(), hostile.close()]);
    await http.close();
  });

  it('moves one page and returns only counts, a cursor, a checksum and its requests by host', async () => {
    const result = await new MockActivityEnvironment().run(activities.syncEmployeePage, input());
    const terminated = source.employees
      .slice(0, 50)
      .filter((e) => e.status === 'terminated' && e.work_email !== null);
    expect(terminated.length).toBeGreaterThan(0);
    expect(result).toEqual({
      read: 50,
      written: 49,
      skipped: 1,
      deactivated: terminated.length,
      nextCursor: expect.any(String),
      checksum: expect.stringMatching(/^[0-9a-f]{64}$/),
      asOf: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      // The source; the upsert and the deactivation of the page's terminated employees.
      egress: { [host(source.url)]: 1, [host(destination.url)]: 2 },
    });
    expect(destination.records.size).toBe(49);
    expect([...destination.deactivated.keys()].sort()).toEqual(terminated.map((e) => e.employee_id).sort());
  });

  it('refuses a page whose records are not a list, as a non-retryable failure that quotes nothing', async () => {
    const odd = createServer((_req, res) =>
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ data: 'Jane Doe 123-45-6789', next_cursor: null })),
    );
    await new Promise<void>((resolve) => odd.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(odd.address() as AddressInfo).port}`;
    sealed.odd = { host: host(url), secrets: { apiKey: 'source-key-123' } };
    try {
      const error = await new MockActivityEnvironment()
        .run(activities.syncEmployeePage, { ...input(), source: { id: 'odd', baseUrl: url } })
        .catch((e: unknown) => e);
      expect(error).toMatchObject({ type: 'SourceRequestRejected', nonRetryable: true });
      expect((error as Error).message).toBe(`source ${host(url)} sent a page of an unexpected shape`);
    } finally {
      odd.close();
    }
  });

  it("turns a 429 into a retryable failure that waits for the source's Retry-After", async () => {
    const env = new MockActivityEnvironment();
    let failure: unknown;
    for (let i = 0; i < 4 && failure === undefined; i++) {
      failure = await env.run(activities.syncEmployeePage, input()).then(
        () => undefined,
        (error: unknown) => error,
      );
    }
    expect(failure).toBeInstanceOf(ApplicationFailure);
    expect(failure).toMatchObject({ type: 'RateLimited', nonRetryable: false, nextRetryDelay: '3 seconds' });
  });

  it('refuses for good when the source rejects the credentials, without quoting the answer', async () => {
    const error = await new MockActivityEnvironment()
      .run(activities.syncEmployeePage, input('wrong'))
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ type: 'SourceAuthRejected', nonRetryable: true });
    expect((error as Error).message).toMatch(/^source 127\.0\.1\.1:\d+ answered 401: credentials refused$/);
  });

  it('refuses a redirect to a host that is not one of its connections, before sending to it', async () => {
    const before = destination.requests;
    const error = await new MockActivityEnvironment()
      .run(activities.syncEmployeePage, input('hostile'))
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ type: 'EgressRefused', nonRetryable: true });
    expect((error as Error).message).toMatch(/^egress to 127\.0\.1\.1:\d+ refused/);
    expect(destination.requests).toBe(before);
  });

  it('refuses a run whose URL is not the host sealed with the connection', async () => {
    const tampered = { ...input(), source: { id: 'src', baseUrl: 'http://203.0.113.7:8080' } };
    const error = await new MockActivityEnvironment()
      .run(activities.syncEmployeePage, tampered)
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ type: 'EgressRefused', nonRetryable: true });
    expect((error as Error).message).toBe(
      'egress to 203.0.113.7:8080 refused: connection source src is recorded for another host',
    );
  });

  it('is refused by the payload guard, by name, when its result is not metadata', async () => {
    const leaky = async () => source.employees;
    const env = new MockActivityEnvironment(
      { activityType: 'leakyActivity', workflowType: 'hrisEmployeeSync' },
      { interceptors: [activityPayloadGuard(16 * 1024)] },
    );
    const error = await env.run(leaky).catch((e: unknown) => e);
    expect(error).toMatchObject({ type: 'PayloadTooLarge', nonRetryable: true });
    expect((error as Error).message).toMatch(
      /^activity leakyActivity of workflow hrisEmployeeSync result: payload of \d+ bytes/,
    );
  });

  it("withholds the message of an error that is not Tavio's own: it may quote what the source sent", async () => {
    const choking = async () => JSON.parse('Jane Doe,1987-04-12,123-45-6789') as unknown;
    const env = new MockActivityEnvironment(
      { activityType: 'syncEmployeePage' },
      { interceptors: [activityFailureScrubber()] },
    );
    const error = await env.run(choking).catch((e: unknown) => e);
    expect(error).toMatchObject({ type: 'SyntaxError', nonRetryable: false });
    expect((error as Error).message).toBe(
      'activity syncEmployeePage failed with SyntaxError; its message is withheld because it may quote upstream data',
    );
    expect(JSON.stringify(error) + String((error as Error).stack)).not.toContain('Jane');
  });

  it("lets Tavio's own failures through unchanged", async () => {
    const env = new MockActivityEnvironment({}, { interceptors: [activityFailureScrubber()] });
    const error = await env.run(activities.syncEmployeePage, input('hostile')).catch((e: unknown) => e);
    expect(error).toMatchObject({
      type: 'EgressRefused',
      nonRetryable: true,
      message: expect.stringMatching(/^egress to 127\.0\.1\.1:\d+ refused/),
    });
  });
});
