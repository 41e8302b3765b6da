import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Run } from '../../control-api/client.js';
import { summaryOf } from '../../control-api/client.js';
import { DATAPLANE_ROLE } from '../../common/names.js';
import { createSealedStore } from '../../common/sealed-objects.js';
import type { SealedStore } from '../../common/sealed-objects.js';
import { generateEmployees } from '../../fixtures/employees.js';
import type { DestinationFault } from '../../fixtures/upsert-destination.js';
import { clientsAs } from '../../test/support/aws.js';
import type { EnvScenario } from '../../test/support/scenario.js';
import { decodedText, histories, newEnvironment, runRequest } from '../../test/support/scenario.js';
import type { DeclaredFields } from './declared-mapping.js';
import { HRIS_EMPLOYEE_MAPPING, mapEmployee } from './mapping.js';
import type { SyncMode } from './types.js';

const EMPLOYEES = 120;

/** A connection pair's high-water mark as the data plane saves it. */
interface SavedMark {
  mark: string;
  mappingVersion?: number | null;
  runStartedAt: string;
  savedAt: string;
}

/**
 * Incremental syncs on the local stack: a run moves only what changed at the source since the
 * connection pair's mark, deactivates who was terminated or deleted, and leaves the destination
 * matching the source; a full run reconciles what deltas missed; only a completed run moves the mark.
 */
describe('hris-employee-sync incremental runs', () => {
  let s: EnvScenario;
  let store: SealedStore;
  /** How the destination answers upserts meanwhile: normally, or with a fault. */
  let fault: DestinationFault | undefined;
  const workflowIds: string[] = [];
  /** Employees deleted at the source, with the reason their deactivation must carry. */
  const deleted = new Map<string, 'deleted' | 'missing'>();

  const start = async (mode: SyncMode) => {
    // Full listings in pages of 25, changes in pages of 4: either way, more than one execution.
    const options =
      mode === 'full' ? { pageSize: 25, pagesPerExecution: 2 } : { pageSize: 4, pagesPerExecution: 2 };
    const run = await s.client.createRun(s.org, s.env, runRequest(s, { options: { ...options, mode } }));
    workflowIds.push(run.workflowId);
    return run;
  };
  const finished = async (mode: SyncMode): Promise<Run> =>
    s.client.waitForRun(s.org, s.env, (await start(mode)).id);
  const summary = (run: Run) => summaryOf(run, 'hris-employee-sync');
  const markName = () => `sync-marks/${s.sourceConnectionId}.${s.destinationConnectionId}`;
  /** The mark as saved in the environment's bucket, opened with its data-plane role. */
  const savedMark = async () =>
    JSON.parse((await store.get('state', markName())).toString('utf8')) as SavedMark;
  /** Employees that map and are not terminated: the ones changes are made to. */
  const working = () =>
    s.source.employees.filter((e) => mapEmployee(e) !== null && e.status !== 'terminated');
  const writes = () => new Map(s.destination.writes);
  const rewritten = (before: Map<string, number>) =>
    [...s.destination.writes]
      .filter(([id, n]) => n !== before.get(id))
      .map(([id]) => id)
      .sort();

  /** Every current valid employee holds exactly its mapped content; whoever left is deactivated, with the reason. */
  function expectDestinationMatchesSource() {
    for (const employee of s.source.employees) {
      const mapped = mapEmployee(employee);
      if (!mapped) continue;
      expect(s.destination.records.get(employee.employee_id)).toEqual(JSON.parse(JSON.stringify(mapped)));
      const deactivation = s.destination.deactivated.get(employee.employee_id);
      if (mapped.employmentStatus === 'terminated') expect(deactivation?.reason).toBe('terminated');
      else expect(deactivation).toBeUndefined();
    }
    for (const [id, reason] of deleted) expect(s.destination.deactivated.get(id)?.reason).toBe(reason);
  }

  beforeAll(async () => {
    s = await newEnvironment('us', {
      employees: EMPLOYEES,
      rateLimitEvery: 0,
      destination: { fault: () => fault },
    });
    const { s3, kms } = await clientsAs(s.environment, DATAPLANE_ROLE);
    store = createSealedStore({
      s3,
      kms,
      bucket: s.environment.bucket,
      scope: { organization: s.org, environment: s.env, region: 'us', keyArn: s.environment.keyArn! },
    });
  });
  afterAll(async () => {
    await s?.close();
  });

  it('moves everything in a full run, deactivates the terminated, and saves the listing as_of as the mark', async () => {
    const run = await finished('full');
    expect(run.status).toBe('completed');
    const terminated = s.source.employees.filter((e) => mapEmployee(e)?.employmentStatus === 'terminated');
    expect(terminated.length).toBeGreaterThan(0);
    expect(summary(run)).toMatchObject({
      mode: 'full',
      recordsRead: EMPLOYEES,
      recordsWritten: s.source.employees.filter((e) => mapEmployee(e) !== null).length,
      recordsDeactivated: terminated.length,
      executions: 3,
    });
    expectDestinationMatchesSource();
    const mark = await savedMark();
    expect(Object.keys(mark).sort()).toEqual(['mappingVersion', 'mark', 'runStartedAt', 'savedAt']);
    expect(mark.mappingVersion).toBeNull();
    expect(Date.parse(mark.mark!)).toBeGreaterThanOrEqual(Date.parse(run.createdAt) - 1000);
  });

  it('moves only the changes since the mark, deactivating the terminated and the deleted', async () => {
    const [u1, u2, u3, t1, t2, d1, d2] = working();
    s.source.update(u1!.employee_id, { job_title: 'Principal Fixture Engineer' });
    s.source.update(u2!.employee_id, { department: 'Research' });
    s.source.update(u3!.employee_id, { compensation: { amount: 99_000, currency: 'USD' } });
    s.source.terminate(t1!.employee_id, '2026-11-27');
    s.source.terminate(t2!.employee_id, '2026-11-28');
    s.source.remove(d1!.employee_id);
    s.source.remove(d2!.employee_id);
    for (const d of [d1!, d2!]) deleted.set(d.employee_id, 'deleted');
    const [n1, n2] = generateEmployees(2, 77).map((e, i) => ({
      ...e,
      employee_id: `N${i + 1}`,
      status: 'active' as const,
    }));
    s.source.add(n1!);
    s.source.add(n2!);
    const before = writes();
    const markBefore = (await savedMark()).mark;

    const run = await finished('incremental');
    expect(run.status).toBe('completed');
    expect(summary(run)).toMatchObject({
      mode: 'incremental',
      recordsRead: 9,
      recordsWritten: 7,
      recordsSkipped: 0,
      recordsDeactivated: 4,
      pages: 3,
      executions: 2,
    });
    expect(rewritten(before)).toEqual(
      [u1, u2, u3, t1, t2]
        .map((e) => e!.employee_id)
        .concat('N1', 'N2')
        .sort(),
    );
    expect(s.destination.deactivated.get(t1!.employee_id)?.reason).toBe('terminated');
    expect(s.destination.records.get(t2!.employee_id)).toMatchObject({ terminationDate: '2026-11-28' });
    expectDestinationMatchesSource();
    expect((await savedMark()).mark! > markBefore!).toBe(true);
  });

  it('deactivates as missing, in a full run, an employee whose deletion no incremental run saw', async () => {
    const [gone] = working();
    s.source.remove(gone!.employee_id);
    deleted.set(gone!.employee_id, 'missing');
    const markBefore = (await savedMark()).mark;
    const run = await finished('full');
    expect(run.status).toBe('completed');
    const terminated = s.source.employees.filter((e) => mapEmployee(e)?.employmentStatus === 'terminated');
    // The terminated are deactivated again, as they are listed; the deleted one as missing.
    expect(summary(run)).toMatchObject({ mode: 'full', recordsDeactivated: terminated.length + 1 });
    expectDestinationMatchesSource();
    expect((await savedMark()).mark! > markBefore!).toBe(true);
  });

  it('fails with SourceMarkRefused when the source refuses the mark, and leaves the mark where it was', async () => {
    const [u1, u2] = working();
    s.source.update(u1!.employee_id, { job_title: 'Staff Fixture Engineer' });
    s.source.update(u2!.employee_id, { job_title: 'Fixture Analyst' });
    const mark = await savedMark();
    s.source.refuseMarksBefore = new Date(Date.now() + 3_600_000);
    try {
      const run = await finished('incremental');
      expect(run.status).toBe('failed');
      expect(run.failure).toMatch(
        /SourceMarkRefused: source 127\.0\.1\.1:\d+ answered 400 to updated_since: it refuses the high-water mark/,
      );
    } finally {
      s.source.refuseMarksBefore = undefined;
    }
    expect(await savedMark()).toEqual(mark);
  });

  it('moves the mark neither for a canceled run nor for a failed one; the next run moves the changes since the old mark', async () => {
    const mark = await savedMark();
    const before = writes();
    // A destination that is down: the run retries its first upsert until it is canceled.
    fault = { status: 503 };
    const canceled = await start('incremental');
    const until = Date.now() + 60_000;
    while (s.destination.faulted === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
    expect(s.destination.faulted).toBeGreaterThan(0);
    await s.client.cancelRun(s.org, s.env, canceled.id);
    expect((await s.client.waitForRun(s.org, s.env, canceled.id)).status).toBe('canceled');
    expect(await savedMark()).toEqual(mark);
    // A destination that refuses the batch: the run fails for good.
    fault = { status: 422 };
    const failed = await finished('incremental');
    expect(failed.status).toBe('failed');
    expect(failed.failure).toMatch(/DestinationRequestRejected/);
    expect(await savedMark()).toEqual(mark);
    fault = undefined;

    // The two employees changed before the refused run, nothing since: exactly those move.
    const run = await finished('incremental');
    expect(run.status).toBe('completed');
    expect(summary(run)).toMatchObject({ mode: 'incremental', recordsRead: 2, recordsWritten: 2 });
    expect(rewritten(before)).toHaveLength(2);
    expectDestinationMatchesSource();
    expect((await savedMark()).mark! > mark.mark!).toBe(true);
  });

  it('lists and moves every record in the first incremental run under a new mapping version', async () => {
    // Every canonical field from its fixed path: the records map as before, now by version 1.
    const fields = Object.fromEntries(
      Object.entries(HRIS_EMPLOYEE_MAPPING).map(([field, path]) => [field, { path }]),
    ) as DeclaredFields;
    const saved = await s.client.saveMapping(s.org, s.env, {
      source: s.sourceConnectionId,
      destination: s.destinationConnectionId,
      fields,
    });
    const before = writes();
    const run = await finished('incremental');
    expect(run.status).toBe('completed');
    expect(run.mappingVersion).toBe(saved.version);
    const valid = s.source.employees.filter((e) => mapEmployee(e) !== null);
    // Nothing changed at the source since the mark: only the new version makes it list everything.
    expect(summary(run)).toMatchObject({
      mode: 'incremental',
      recordsRead: s.source.employees.length,
      recordsWritten: valid.length,
    });
    expect(rewritten(before)).toEqual(valid.map((e) => e.employee_id).sort());
    expectDestinationMatchesSource();
    expect((await savedMark()).mappingVersion).toBe(saved.version);

    // The mark now carries the version: the next incremental run lists only changes again.
    const next = await finished('incremental');
    expect(next.status).toBe('completed');
    expect(summary(next)).toMatchObject({ mode: 'incremental', recordsRead: 0, recordsWritten: 0 });
  });

  it('refuses to reconcile a full listing that read no employee: nobody is deactivated, the mark stays', async () => {
    const mark = await savedMark();
    const deactivatedBefore = new Map(s.destination.deactivated);
    const everyone = s.source.employees.map((e) => e.employee_id);
    for (const id of everyone) s.source.remove(id);
    const run = await finished('full');
    expect(run.status).toBe('failed');
    expect(run.failure).toBe(
      'EmptyListingRefused: the source listed no employees in a full listing: nothing was deactivated and the high-water mark was not moved',
    );
    expect(new Map(s.destination.deactivated)).toEqual(deactivatedBefore);
    expect(await savedMark()).toEqual(mark);
  });

  it('keeps every employee name and email out of the histories of every run', async () => {
    expect(workflowIds.length).toBe(10);
    const people = [...s.source.employees, ...generateEmployees(EMPLOYEES, 42)];
    for (const workflowId of workflowIds) {
      const text = (await histories(s.environment.namespace, workflowId)).map(decodedText).join('\n');
      // Decoding works: the connection ids travel inside the workflow's input payload.
      expect(text).toContain(s.sourceConnectionId);
      const leaked = people.flatMap((e) =>
        [e.work_email, `${e.first_name} ${e.last_name}`, e.national_id]
          .filter((value): value is string => value !== null)
          .filter((value) => text.includes(value)),
      );
      expect(leaked, workflowId).toEqual([]);
    }
  });
});
