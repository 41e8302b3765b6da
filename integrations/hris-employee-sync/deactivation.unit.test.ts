import type { ServerResponse } from 'node:http';
import { MockActivityEnvironment } from '@temporalio/testing';
import { Agent } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_CURSOR_LENGTH, createHrisSyncActivities } from './activities.js';
import type { SyncPageInput, SyncPagesResult } from './types.js';
import type { DeclaredMapping } from './declared-mapping.js';
import { mapEmployee } from './mapping.js';
import { createEgressHttp } from '../../activities/http.js';
import type { SealedConnection } from '../../common/names.js';
import { generateEmployees } from '../../fixtures/employees.js';
import { startHrisSource } from '../../fixtures/hris-source.js';
import type { HrisSource } from '../../fixtures/hris-source.js';
import { startUpsertDestination } from '../../fixtures/upsert-destination.js';
import type { UpsertDestination } from '../../fixtures/upsert-destination.js';
import type { Upstream } from '../../test/unit/upstream-server.js';
import { startUpstream } from '../../test/unit/upstream-server.js';

/** Terminations, deletions, full listings' reconciliation and marks, in the page activities alone. */
describe('hris-employee-sync deactivation', () => {
  let source: HrisSource;
  let destination: UpsertDestination;
  let odd: Upstream;
  const http = createEgressHttp(new Agent());
  const vault: Record<string, SealedConnection> = {};
  const activities = createHrisSyncActivities({ http, credentials: { open: async (id) => vault[id]! } });
  const request = (overrides: Partial<SyncPageInput> = {}) => ({
    source: { id: 'src', baseUrl: source.url },
    destination: { id: 'dst', baseUrl: destination.url },
    cursor: null,
    pageSize: 100,
    ...overrides,
  });
  /** An attempt of a run with this workflow id: a full listing's session. */
  const attempt = (run = 'run-1') =>
    new MockActivityEnvironment({
      startToCloseTimeoutMs: 60_000,
      workflowExecution: { workflowId: run, runId: `${run}-execution` },
    });
  /** A whole listing, as a run moves it. */
  const listing = (run: string, overrides: Partial<SyncPageInput> = {}): Promise<SyncPagesResult> =>
    attempt(run).run(activities.syncEmployeePages, { ...request(overrides), maxPages: 100 });
  const valid = () => source.employees.filter((e) => mapEmployee(e) !== null);

  beforeAll(async () => {
    source = await startHrisSource({ apiKey: 'source-key-123', employees: 40 });
    destination = await startUpsertDestination({ token: 'destination-token-123' });
    odd = await startUpstream();
    vault.src = { host: new URL(source.url).host, secrets: { apiKey: 'source-key-123' } };
    vault.dst = { host: new URL(destination.url).host, secrets: { token: 'destination-token-123' } };
    vault.odd = { host: odd.host, secrets: { apiKey: 'source-key-123' } };
  });
  afterAll(async () => {
    await Promise.all([source.close(), destination.close(), odd.close()]);
    await http.close();
  });

  it('upserts and deactivates terminated employees in a full listing, and reconciles what it did not see', async () => {
    const full = await listing('run-1', { reconcile: true });
    const terminated = valid().filter((e) => e.status === 'terminated');
    expect(terminated.length).toBeGreaterThan(0);
    expect(full).toMatchObject({
      read: 40,
      written: valid().length,
      skipped: 40 - valid().length,
      deactivated: terminated.length,
      nextCursor: null,
      asOf: expect.stringMatching(/^\d{4}-/),
    });
    expect([...destination.deactivated].map(([id, d]) => [id, d.reason])).toEqual(
      terminated.map((e) => [e.employee_id, 'terminated']),
    );
    // Nobody is missing from a listing of everyone; a skipped record was seen all the same.
    expect(await attempt('run-1').run(activities.deactivateMissing, request())).toMatchObject({
      deactivated: 0,
    });
    // Deleted at the source while no incremental run looked: the next full listing finds it missing.
    const gone = valid().find((e) => e.status !== 'terminated')!;
    source.remove(gone.employee_id);
    await listing('run-2', { reconcile: true });
    const ended = await attempt('run-2').run(activities.deactivateMissing, request());
    expect(ended).toEqual({ deactivated: 1, egress: { [vault.dst!.host]: 1 } });
    expect(destination.deactivated.get(gone.employee_id)?.reason).toBe('missing');
  });

  it('moves only the changes since a mark, deactivating the deleted without mapping them', async () => {
    const { asOf } = await listing('run-3', { reconcile: true });
    const [updated, terminated, deleted] = valid().filter((e) => e.status === 'active');
    source.update(updated!.employee_id, { department: 'Fixtures' });
    source.terminate(terminated!.employee_id, '2026-11-20');
    source.remove(deleted!.employee_id);
    const writesBefore = new Map(destination.writes);
    const changes = await listing('run-4', { since: asOf });
    expect(changes).toMatchObject({ read: 3, written: 2, skipped: 0, deactivated: 2, nextCursor: null });
    expect(changes.asOf! > asOf!).toBe(true);
    const rewritten = [...destination.writes]
      .filter(([id, n]) => n !== writesBefore.get(id))
      .map(([id]) => id);
    expect(rewritten.sort()).toEqual([updated!.employee_id, terminated!.employee_id].sort());
    expect(destination.records.get(terminated!.employee_id)).toMatchObject({
      employmentStatus: 'terminated',
      terminationDate: '2026-11-20',
    });
    expect(destination.deactivated.get(terminated!.employee_id)?.reason).toBe('terminated');
    expect(destination.deactivated.get(deleted!.employee_id)?.reason).toBe('deleted');
  });

  it('fails for good, naming updated_since and the source, when the source refuses the mark', async () => {
    source.refuseMarksBefore = new Date(Date.now() + 60_000);
    try {
      const error = await attempt()
        .run(activities.syncEmployeePage, request({ since: new Date().toISOString() }))
        .catch((e: unknown) => e);
      expect(error).toMatchObject({ type: 'SourceMarkRefused', nonRetryable: true });
      expect((error as Error).message).toBe(
        `source ${vault.src!.host} answered 400 to updated_since: it refuses the high-water mark of this connection pair; the mark was not moved (a full run lists everything again)`,
      );
    } finally {
      source.refuseMarksBefore = undefined;
    }
  });

  const answer = (body: unknown) => (_req: unknown, res: ServerResponse) =>
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  const fromOdd = () =>
    attempt()
      .run(activities.syncEmployeePage, request({ source: { id: 'odd', baseUrl: odd.url } }))
      .catch((e: unknown) => e);

  it('refuses an as_of too long for a mark, without quoting it', async () => {
    const asOf = 'x'.repeat(MAX_CURSOR_LENGTH + 1);
    odd.handle = answer({ data: [], next_cursor: null, as_of: asOf });
    const error = await fromOdd();
    expect(error).toMatchObject({ type: 'UpstreamValueRefused', nonRetryable: true });
    expect((error as Error).message).toBe(
      `source ${odd.host} sent a listing as_of of ${MAX_CURSOR_LENGTH + 1} characters, over the limit of ${MAX_CURSOR_LENGTH}`,
    );
  });

  it('counts a tombstone without an id as skipped, and accepts a listing without as_of (no mark)', async () => {
    const [employee] = generateEmployees(1, 5);
    odd.handle = answer({
      data: [
        { deleted_at: '2026-11-30T00:00:00Z' },
        { employee_id: 'Z1', deleted_at: '2026-11-30T00:00:00Z' },
        employee,
      ],
      next_cursor: null,
    });
    const result = await fromOdd();
    expect(result).toMatchObject({ read: 3, written: 1, skipped: 1, deactivated: 1, asOf: null });
    expect(destination.deactivated.get('Z1')?.reason).toBe('deleted');
  });

  it("deactivates a tombstone by the declared mapping's externalId rule, skipping one whose id it cannot derive", async () => {
    const [employee] = generateEmployees(1, 6);
    const mapping: DeclaredMapping = {
      version: 4,
      fields: {
        externalId: { path: 'ids.hr', transforms: [{ type: 'trim' }, { type: 'lowercase' }] },
        givenName: { path: 'first_name' },
        familyName: { path: 'last_name' },
        email: { path: 'work_email' },
        employmentStatus: { path: 'status' },
      },
    };
    odd.handle = answer({
      data: [
        // employee_id is not the mapping's id: the deactivation names ' HR-77 ' trimmed and lower-cased.
        { employee_id: 'Z2', ids: { hr: ' HR-77 ' }, deleted_at: '2026-11-30T00:00:00Z' },
        { employee_id: 'Z3', deleted_at: '2026-11-30T00:00:00Z' },
        { ...employee, ids: { hr: ' HR-78 ' } },
      ],
      next_cursor: null,
    });
    const result = await attempt()
      .run(activities.syncEmployeePage, request({ source: { id: 'odd', baseUrl: odd.url }, mapping }))
      .catch((e: unknown) => e);
    expect(result).toMatchObject({ read: 3, written: 1, skipped: 1, deactivated: 1 });
    expect(destination.deactivated.get('hr-77')?.reason).toBe('deleted');
    expect(destination.records.get('hr-78')).toMatchObject({ givenName: employee!.first_name });
    for (const id of ['Z2', 'Z3', ' HR-77 ']) expect(destination.deactivated.has(id)).toBe(false);
  });
});
