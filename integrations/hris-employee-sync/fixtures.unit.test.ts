import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHrisSource } from '../../fixtures/hris-source.js';
import type { HrisSource } from '../../fixtures/hris-source.js';
import { startUpsertDestination } from '../../fixtures/upsert-destination.js';
import type { UpsertDestination } from '../../fixtures/upsert-destination.js';
import { generateEmployees } from '../../fixtures/employees.js';

interface Page {
  data: Array<Record<string, unknown>>;
  next_cursor: string | null;
  as_of: string;
}

/** The fixture systems that incremental syncs run against: what they list, and what they deactivate. */
describe('fixture HRIS listings', () => {
  let source: HrisSource;
  const list = async (query: Record<string, string>) => {
    const response = await fetch(`${source.url}/v1/employees?${new URLSearchParams(query)}`, {
      headers: { 'x-api-key': 'key-123' },
    });
    return { status: response.status, body: (await response.json()) as Page };
  };
  /** Every page of one listing. */
  const all = async (query: Record<string, string> = {}) => {
    const pages: Page[] = [];
    let cursor: string | null = null;
    do {
      const { body }: { body: Page } = await list({ limit: '7', ...query, ...(cursor ? { cursor } : {}) });
      pages.push(body);
      cursor = body.next_cursor;
    } while (cursor !== null);
    return pages;
  };

  beforeAll(async () => {
    source = await startHrisSource({ apiKey: 'key-123', employees: 30 });
  });
  afterAll(() => source.close());

  it('gives each employee a time of change, and each terminated one a last day after its hire date', () => {
    for (const e of source.employees) {
      expect(Date.parse(e.updated_at)).not.toBeNaN();
      if (e.status === 'terminated') expect(e.termination_date! >= e.hire_date).toBe(true);
      else expect(e.termination_date).toBeNull();
    }
    expect(source.employees.some((e) => e.status === 'terminated')).toBe(true);
  });

  it('lists every current employee without updated_since, each page with the as_of of the first', async () => {
    const pages = await all();
    expect(pages.flatMap((p) => p.data.map((e) => e.employee_id))).toEqual(
      source.employees.map((e) => e.employee_id),
    );
    expect(new Set(pages.map((p) => p.as_of)).size).toBe(1);
  });

  it('lists only what changed after updated_since, deletions as tombstones, up to the listing as_of', async () => {
    const [first] = await all();
    const mark = first!.as_of;
    source.update('E000002', { job_title: 'Chief Fixture Officer' });
    source.terminate('E000003', '2026-11-01');
    source.remove('E000004');
    const added = source.add({ ...generateEmployees(1, 99)[0]!, employee_id: 'N000001' });
    const changes = await all({ updated_since: mark });
    expect(changes.flatMap((p) => p.data)).toEqual([
      source.employees.find((e) => e.employee_id === 'E000002'),
      source.employees.find((e) => e.employee_id === 'E000003'),
      { employee_id: 'E000004', deleted_at: expect.any(String) },
      added,
    ]);
    expect(source.employees.find((e) => e.employee_id === 'E000003')).toMatchObject({
      status: 'terminated',
      termination_date: '2026-11-01',
    });
    expect(source.employees.map((e) => e.employee_id)).not.toContain('E000004');
    // Nothing changed since the listing of changes began.
    const later = await all({ updated_since: changes[0]!.as_of });
    expect(later.flatMap((p) => p.data)).toEqual([]);
  });

  it('shifts nothing when an employee is deleted in the middle of a full listing', async () => {
    const { body: page } = await list({ limit: '5' });
    const next = source.employees.slice(5, 10).map((e) => e.employee_id);
    source.remove(source.employees[2]!.employee_id);
    const { body: rest } = await list({ limit: '5', cursor: page.next_cursor! });
    expect(rest.data.map((e) => e.employee_id)).toEqual(next);
    expect(rest.as_of).toBe(page.as_of);
  });

  it('answers 400 to an updated_since that is not a timestamp, or older than it keeps changes for', async () => {
    expect(await list({ updated_since: 'yesterday' })).toMatchObject({ status: 400 });
    source.refuseMarksBefore = new Date(Date.now() + 60_000);
    try {
      expect(await list({ updated_since: new Date().toISOString() })).toMatchObject({ status: 400 });
      expect(await list({})).toMatchObject({ status: 200 });
    } finally {
      source.refuseMarksBefore = undefined;
    }
    expect(await list({ updated_since: new Date().toISOString() })).toMatchObject({ status: 200 });
  });
});

describe('fixture destination deactivation', () => {
  let destination: UpsertDestination;
  const post = async (path: string, body: unknown, token = 'token-123') => {
    const response = await fetch(`${destination.url}/v1/employees/${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };
  const employee = (id: string, employmentStatus = 'active') => ({ externalId: id, employmentStatus });

  beforeAll(async () => {
    destination = await startUpsertDestination({ token: 'token-123' });
  });
  afterAll(() => destination.close());

  it('deactivates with a reason, and a rehire (an upsert of a working employee) clears it', async () => {
    await post('batch-upsert', { records: [employee('A'), employee('B')] });
    expect(
      await post('deactivate', {
        records: [
          { externalId: 'A', reason: 'terminated' },
          { externalId: 'B', reason: 'deleted' },
        ],
      }),
    ).toEqual({ status: 200, body: { deactivated: 2 } });
    expect(destination.deactivated.get('A')).toMatchObject({ reason: 'terminated', at: expect.any(String) });
    await post('batch-upsert', { records: [employee('A', 'terminated'), employee('B')] });
    expect(destination.deactivated.has('A')).toBe(true);
    expect(destination.deactivated.has('B')).toBe(false);
  });

  it('refuses a deactivation without a known reason, and any request without the token', async () => {
    expect(await post('deactivate', { records: [{ externalId: 'A', reason: 'bored' }] })).toMatchObject({
      status: 422,
    });
    expect(await post('deactivate', { records: [] }, 'wrong')).toMatchObject({ status: 401 });
  });

  it('deactivates as missing what a session neither upserted nor saw, once', async () => {
    await post('batch-upsert', { records: [employee('C'), employee('D'), employee('E')] });
    await post('batch-upsert', { records: [employee('C')], session: 'run-1', seen: ['D'] });
    const before = new Set(destination.deactivated.keys());
    const ended = await post('deactivate-missing', { session: 'run-1' });
    const missing = [...destination.deactivated].filter(([id]) => !before.has(id));
    // B and E were active and not named by the session; A was deactivated already.
    expect(ended).toEqual({ status: 200, body: { deactivated: 2 } });
    expect(missing.map(([id, d]) => [id, d.reason]).sort()).toEqual([
      ['B', 'missing'],
      ['E', 'missing'],
    ]);
    // A retry of the same end answers the same count and deactivates nothing more.
    expect(await post('deactivate-missing', { session: 'run-1' })).toEqual(ended);
    expect(destination.deactivated.has('C') || destination.deactivated.has('D')).toBe(false);
  });
});
