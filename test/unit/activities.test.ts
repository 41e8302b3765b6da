import { MockActivityEnvironment } from '@temporalio/testing';
import { ApplicationFailure } from '@temporalio/common';
import { fetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHrisSyncActivities } from '../../activities/hris-sync.js';
import type { GatewayHttp } from '../../activities/http.js';
import { activityPayloadGuard } from '../../workers/activity-guard.js';
import { startHrisSource } from '../../fixtures/hris-source.js';
import type { HrisSource } from '../../fixtures/hris-source.js';
import { startUpsertDestination } from '../../fixtures/upsert-destination.js';
import type { UpsertDestination } from '../../fixtures/upsert-destination.js';

/** The activity alone, against the fixture systems, with direct HTTP and fixed credentials. */
describe('syncEmployeePage', () => {
  let source: HrisSource;
  let destination: UpsertDestination;
  const direct: GatewayHttp = { fetch: (url, init) => fetch(url, init), close: async () => undefined };
  const secrets: Record<string, Record<string, string>> = {
    src: { apiKey: 'source-key-123' },
    dst: { token: 'destination-token-123' },
  };
  const activities = createHrisSyncActivities({
    http: direct,
    credentials: { open: async (id) => secrets[id]! },
  });
  const input = () => ({
    source: { id: 'src', baseUrl: source.url },
    destination: { id: 'dst', baseUrl: destination.url },
    cursor: null,
    pageSize: 50,
  });

  beforeAll(async () => {
    source = await startHrisSource({
      apiKey: 'source-key-123',
      employees: 120,
      rateLimitEvery: 4,
      retryAfterSeconds: 3,
    });
    destination = await startUpsertDestination({ token: 'destination-token-123' });
  });
  afterAll(async () => {
    await source.close();
    await destination.close();
  });

  it('moves one page and returns only counts, a cursor and a checksum', async () => {
    const result = await new MockActivityEnvironment().run(activities.syncEmployeePage, input());
    expect(result).toEqual({
      read: 50,
      written: 49,
      skipped: 1,
      nextCursor: expect.any(String),
      checksum: expect.stringMatching(/^[0-9a-f]{64}$/),
    });
    expect(destination.records.size).toBe(49);
  });

  it("turns a 429 into a retryable failure that waits for the source's Retry-After", async () => {
    const env = new MockActivityEnvironment();
    const failure = await (async () => {
      for (let i = 0; i < 4; i++) {
        try {
          await env.run(activities.syncEmployeePage, input());
        } catch (error) {
          return error;
        }
      }
      return undefined;
    })();
    expect(failure).toBeInstanceOf(ApplicationFailure);
    expect(failure).toMatchObject({ type: 'RateLimited', nonRetryable: false, nextRetryDelay: '3 seconds' });
  });

  it('refuses for good when the source rejects the credentials, without quoting the answer', async () => {
    const refused = createHrisSyncActivities({
      http: direct,
      credentials: { open: async () => ({ apiKey: 'wrong-key-000', token: 'x' }) },
    });
    const error = await new MockActivityEnvironment()
      .run(refused.syncEmployeePage, input())
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ type: 'SourceAuthRejected', nonRetryable: true });
    expect((error as Error).message).toMatch(/^source 127\.0\.0\.1:\d+ answered 401: credentials refused$/);
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
});
