import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { MockActivityEnvironment } from '@temporalio/testing';
import { Agent } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHrisSyncActivities } from './activities.js';
import { createEgressHttp } from '../../activities/http.js';
import { xorHex } from '../../common/checksums.js';
import type { SyncPagesProgress, SyncPagesResult } from './types.js';
import type { SealedConnection } from '../../common/names.js';
import { startHrisSource } from '../../fixtures/hris-source.js';
import type { HrisSource } from '../../fixtures/hris-source.js';
import { startUpsertDestination } from '../../fixtures/upsert-destination.js';
import type { UpsertDestination } from '../../fixtures/upsert-destination.js';

/** Several pages per activity, against the fixture systems over a direct connection. */
describe('syncEmployeePages', () => {
  let source: HrisSource;
  let destination: UpsertDestination;
  const http = createEgressHttp(new Agent());
  const vault: Record<string, SealedConnection> = {};
  const activities = createHrisSyncActivities({ http, credentials: { open: async (id) => vault[id]! } });
  const request = () => ({
    source: { id: 'src', baseUrl: source.url },
    destination: { id: 'dst', baseUrl: destination.url },
    cursor: null,
    pageSize: 25,
  });
  const attempt = (heartbeatDetails?: SyncPagesProgress) =>
    new MockActivityEnvironment({
      startToCloseTimeoutMs: 60_000,
      heartbeatTimeoutMs: 5_000,
      heartbeatDetails,
    });

  beforeAll(async () => {
    source = await startHrisSource({ apiKey: 'source-key-123', employees: 60 });
    destination = await startUpsertDestination({ token: 'destination-token-123' });
    vault.src = { host: new URL(source.url).host, secrets: { apiKey: 'source-key-123' } };
    vault.dst = { host: new URL(destination.url).host, secrets: { token: 'destination-token-123' } };
  });
  afterAll(async () => {
    await Promise.all([source.close(), destination.close()]);
    await http.close();
  });

  it('moves every page up to its bound in one attempt, with the same counts and checksum as page by page', async () => {
    const pages = [];
    let cursor: string | null = null;
    do {
      const page: { read: number; written: number; checksum: string; nextCursor: string | null } =
        await attempt().run(activities.syncEmployeePage, { ...request(), cursor });
      pages.push(page);
      cursor = page.nextCursor;
    } while (cursor !== null);
    const all: SyncPagesResult = await attempt().run(activities.syncEmployeePages, {
      ...request(),
      maxPages: 25,
    });
    expect(all).toMatchObject({
      pages: 3,
      read: 60,
      written: pages.reduce((sum, page) => sum + page.written, 0),
      nextCursor: null,
      checksum: pages.map((page) => page.checksum).reduce(xorHex),
    });
    // Per page: the source, the upsert, and the deactivation of the page's terminated employees.
    const terminated = source.employees.flatMap((e, at) =>
      e.status === 'terminated' && e.work_email ? [Math.floor(at / 25)] : [],
    );
    expect(terminated.length).toBeGreaterThan(0);
    expect(all.deactivated).toBe(terminated.length);
    expect(Object.values(all.egress).reduce((a, b) => a + b, 0)).toBe(6 + new Set(terminated).size);
  });

  it('stops at its bound and says where the next page starts, extracting no page beyond it', async () => {
    const requestsBefore = source.requests;
    const two: SyncPagesResult = await attempt().run(activities.syncEmployeePages, {
      ...request(),
      maxPages: 2,
    });
    expect(two).toMatchObject({ pages: 2, read: 50 });
    expect(two.nextCursor).not.toBeNull();
    expect(source.requests - requestsBefore).toBe(2);
  });

  it('extracts the next page while the current one loads', async () => {
    // A slow destination that notes, as each load ends, how many pages the source was asked for.
    const requestsBefore = source.requests;
    const askedByLoadEnd: number[] = [];
    const slow = createServer((req, res) => {
      req.resume().on('end', () => {
        // Terminated employees are deactivated once their page is upserted, without delay here.
        if (req.url === '/v1/employees/deactivate')
          return res.writeHead(200, { 'content-type': 'application/json' }).end('{"deactivated":1}');
        setTimeout(() => {
          askedByLoadEnd.push(source.requests - requestsBefore);
          res.writeHead(200, { 'content-type': 'application/json' }).end('{"upserted":25}');
        }, 150);
      });
    });
    await new Promise<void>((resolve) => slow.listen(0, '127.0.0.1', resolve));
    const { port } = slow.address() as AddressInfo;
    vault.slow = { host: `127.0.0.1:${port}`, secrets: { token: 'destination-token-123' } };
    try {
      const all: SyncPagesResult = await attempt().run(activities.syncEmployeePages, {
        ...request(),
        destination: { id: 'slow', baseUrl: `http://127.0.0.1:${port}` },
        maxPages: 25,
      });
      expect(all).toMatchObject({ pages: 3, read: 60, nextCursor: null });
      // Pages two and three were asked for while the page before them loaded (page by page: 1, 2, 3).
      expect(askedByLoadEnd).toEqual([2, 3, 3]);
    } finally {
      slow.close();
    }
  });

  it('abandons the page it extracts ahead when the page before it fails to load', async () => {
    // One real record to load, from the fixture HRIS.
    const sample = await fetch(`${source.url}/v1/employees?limit=1`, {
      headers: { 'x-api-key': 'source-key-123' },
    }).then((r) => r.json() as Promise<{ data: unknown[] }>);
    // A source whose second page answers late, and a destination that refuses the first.
    let secondAbandoned = false;
    const late = createServer((req, res) => {
      if (!req.url?.includes('cursor=')) {
        res.writeHead(200, { 'content-type': 'application/json' });
        return res.end(JSON.stringify({ data: sample.data, next_cursor: 'page-2' }));
      }
      res.on('close', () => (secondAbandoned = !res.writableEnded));
      setTimeout(() => res.writableEnded || res.end('{"data":[],"next_cursor":null}'), 5_000);
    });
    const refusing = createServer((_req, res) => res.writeHead(403).end());
    for (const server of [late, refusing])
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const urlOf = (server: typeof late) => `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    vault.late = { host: new URL(urlOf(late)).host, secrets: { apiKey: 'source-key-123' } };
    vault.refusing = { host: new URL(urlOf(refusing)).host, secrets: { token: 'destination-token-123' } };
    try {
      const error = await attempt()
        .run(activities.syncEmployeePages, {
          ...request(),
          source: { id: 'late', baseUrl: urlOf(late) },
          destination: { id: 'refusing', baseUrl: urlOf(refusing) },
          maxPages: 25,
        })
        .catch((e: unknown) => e);
      expect(error).toMatchObject({ type: 'DestinationAuthRejected' });
      // The second page's request is closed with the attempt, long before it would have answered.
      const failedAt = Date.now();
      while (!secondAbandoned && Date.now() - failedAt < 2_000)
        await new Promise((resolve) => setTimeout(resolve, 20));
      expect(secondAbandoned).toBe(true);
    } finally {
      late.closeAllConnections();
      late.close();
      refusing.close();
    }
  });

  it('resumes a retried attempt after the last page its heartbeat recorded, loading no page twice', async () => {
    const first: SyncPagesResult = await attempt().run(activities.syncEmployeePages, {
      ...request(),
      maxPages: 1,
    });
    const requestsBefore = source.requests;
    const progress: SyncPagesProgress = {
      pages: first.pages,
      read: first.read,
      written: first.written,
      skipped: first.skipped,
      nextCursor: first.nextCursor,
      checksum: first.checksum,
    };
    const resumed = await attempt(progress).run(activities.syncEmployeePages, { ...request(), maxPages: 25 });
    expect(resumed).toMatchObject({ pages: 3, read: 60, nextCursor: null });
    // Two more pages were read, not three.
    expect(source.requests - requestsBefore).toBe(2);
  });
});
