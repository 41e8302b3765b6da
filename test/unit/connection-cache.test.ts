import { MockActivityEnvironment } from '@temporalio/testing';
import { Agent } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createConnectionCache } from '../../activities/connection-cache.js';
import { createHrisSyncActivities } from '../../integrations/hris-employee-sync/activities.js';
import { createEgressHttp } from '../../activities/http.js';
import type { SealedConnection } from '../../common/names.js';
import { startHrisSource } from '../../fixtures/hris-source.js';
import type { HrisSource } from '../../fixtures/hris-source.js';
import { startUpsertDestination } from '../../fixtures/upsert-destination.js';
import type { UpsertDestination } from '../../fixtures/upsert-destination.js';

const sealed: SealedConnection = { host: 'hris.test:1', secrets: { apiKey: 'k' } };

describe('the connection cache', () => {
  it('opens a connection once per execution, and again for another execution', async () => {
    const cache = createConnectionCache({ ttlMs: 60_000, maxEntries: 10 });
    let opened = 0;
    const open = async () => {
      opened += 1;
      return sealed;
    };
    await cache.open('run-1', 'src', open);
    await cache.open('run-1', 'src', open);
    expect(opened).toBe(1);
    await cache.open('run-2', 'src', open);
    expect(opened).toBe(2);
  });

  it("forgets an execution's connections, and only that execution's", async () => {
    const cache = createConnectionCache({ ttlMs: 60_000, maxEntries: 10 });
    await cache.open('run-1', 'src', async () => sealed);
    await cache.open('run-1', 'dst', async () => sealed);
    await cache.open('run-2', 'src', async () => sealed);
    cache.forget('run-1');
    expect(cache.size()).toBe(1);
    cache.forget('run-2');
    expect(cache.size()).toBe(0);
  });

  it('keeps nothing past its time to live, nor more entries than its bound', async () => {
    let clock = 0;
    const cache = createConnectionCache({ ttlMs: 1000, maxEntries: 2, now: () => clock });
    await cache.open('run-1', 'a', async () => sealed);
    await cache.open('run-1', 'b', async () => sealed);
    await cache.open('run-1', 'c', async () => sealed);
    expect(cache.size()).toBe(2);
    clock = 1000;
    expect(cache.size()).toBe(0);
  });

  it('keeps no failed opening', async () => {
    const cache = createConnectionCache({ ttlMs: 60_000, maxEntries: 10 });
    await expect(cache.open('run-1', 'src', () => Promise.reject(new Error('vault down')))).rejects.toThrow(
      'vault down',
    );
    expect(cache.size()).toBe(0);
    await expect(cache.open('run-1', 'src', async () => sealed)).resolves.toBe(sealed);
  });
});

describe('syncEmployeePage with the connection cache', () => {
  let source: HrisSource;
  let destination: UpsertDestination;
  const http = createEgressHttp(new Agent());

  beforeAll(async () => {
    source = await startHrisSource({ apiKey: 'source-key-123', employees: 60 });
    destination = await startUpsertDestination({ token: 'destination-token-123' });
  });
  afterAll(async () => {
    await Promise.all([source.close(), destination.close()]);
    await http.close();
  });

  it("opens an execution's connections once for all its pages, and holds nothing after the last page", async () => {
    const opened: string[] = [];
    const vault: Record<string, SealedConnection> = {
      src: { host: new URL(source.url).host, secrets: { apiKey: 'source-key-123' } },
      dst: { host: new URL(destination.url).host, secrets: { token: 'destination-token-123' } },
    };
    const cache = createConnectionCache({ ttlMs: 60_000, maxEntries: 10 });
    const activities = createHrisSyncActivities({
      http,
      credentials: {
        open: async (id) => {
          opened.push(id);
          return vault[id]!;
        },
      },
      connections: cache,
    });
    const execution = new MockActivityEnvironment({
      workflowExecution: { workflowId: 'hris-employee-sync-1', runId: 'execution-1' },
    });
    let cursor: string | null = null;
    let pages = 0;
    do {
      const result: { nextCursor: string | null } = await execution.run(activities.syncEmployeePage, {
        source: { id: 'src', baseUrl: source.url },
        destination: { id: 'dst', baseUrl: destination.url },
        cursor,
        pageSize: 25,
      });
      cursor = result.nextCursor;
      pages += 1;
      if (cursor !== null) expect(cache.size()).toBe(2);
    } while (cursor !== null);
    expect(pages).toBe(3);
    expect(opened.sort()).toEqual(['dst', 'src']);
    expect(cache.size()).toBe(0);
  });
});
