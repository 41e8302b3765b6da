import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TavioApiError } from '../../control-api/client.js';
import type { Run } from '../../control-api/client.js';
import type { DeclaredFields } from '../../integrations/hris-employee-sync/declared-mapping.js';
import type { HrisEmployee } from '../../fixtures/employees.js';
import type { EnvScenario } from '../../test/support/scenario.js';
import { decodedText, histories, newEnvironment, newOrganization, runRequest } from '../support/scenario.js';

const EMPLOYEES = 60;

/** 2021-03-07 -> 07/03/2021: the source's dates in another format than the canonical one. */
const dayFirst = (iso: string) => iso.split('-').reverse().join('/');

const VERSION_1: DeclaredFields = {
  externalId: { path: 'employee_id' },
  givenName: { path: 'first_name' },
  familyName: { path: 'last_name' },
  email: { path: 'work_email', transforms: [{ type: 'trim' }, { type: 'lowercase' }] },
  employmentStatus: {
    path: 'status',
    transforms: [{ type: 'map', values: { active: 'active', on_leave: 'active', terminated: 'terminated' } }],
  },
  hireDate: { path: 'hire_date', transforms: [{ type: 'date', from: 'DD/MM/YYYY' }] },
  department: { path: 'department', transforms: [{ type: 'uppercase' }] },
};

const VERSION_2: DeclaredFields = {
  ...VERSION_1,
  department: { path: 'department' },
  salaryCurrency: { path: 'compensation.currency' },
};

/** The problem a call answered with. */
async function problemOf(call: Promise<unknown>) {
  try {
    await call;
  } catch (error) {
    if (error instanceof TavioApiError) return error.problem;
    throw error;
  }
  throw new Error('the call succeeded');
}

describe('declared field mappings per connection pair', () => {
  let s: EnvScenario;
  let other: EnvScenario;
  /** The source's employees as generated, before their emails and dates were made untidy. */
  let original: Map<string, HrisEmployee>;
  const runs: Run[] = [];

  beforeAll(async () => {
    const org = await newOrganization('mappings');
    s = await newEnvironment('us', { org, employees: EMPLOYEES });
    other = await newEnvironment('us', { org, employees: 5 });
    original = new Map(s.source.employees.map((e) => [e.employee_id, { ...e }]));
    // The source writes emails with spaces and capitals, and dates day first.
    for (const e of original.values()) {
      s.source.update(e.employee_id, {
        work_email: e.work_email === null ? null : `  ${e.work_email.toUpperCase()} `,
        hire_date: dayFirst(e.hire_date),
      });
    }
  });
  afterAll(async () => {
    await Promise.all([s?.close(), other?.close()]);
  });

  const pair = () => ({ source: s.sourceConnectionId, destination: s.destinationConnectionId });
  const save = (fields: unknown, at: Partial<{ source: string; destination: string }> = {}) =>
    s.client.saveMapping(s.org, s.env, { ...pair(), ...at, fields: fields as DeclaredFields });
  const run = async (idempotencyKey?: string) => {
    const started = await s.client.createRun(s.org, s.env, runRequest(s, { idempotencyKey }));
    return s.client.waitForRun(s.org, s.env, started.id);
  };

  it('saves version 1, and a run of the pair carries it: transformed, and redacted', async () => {
    const saved = await save(VERSION_1);
    expect(saved).toMatchObject({ ...pair(), version: 1, fields: VERSION_1 });
    expect(await s.client.getMapping(s.org, s.env, s.sourceConnectionId, s.destinationConnectionId)).toEqual(
      saved,
    );

    const done = await run();
    runs.push(done);
    expect(done.status).toBe('completed');
    expect(done.mappingVersion).toBe(1);
    const withEmail = [...original.values()].filter((e) => e.work_email !== null);
    // Without trim and lowercase, no untidy email would pass; without the date format, no date.
    expect(done.summary).toMatchObject({ recordsRead: EMPLOYEES, recordsWritten: withEmail.length });
    expect(s.destination.records.size).toBe(withEmail.length);
    for (const e of withEmail) {
      const record = s.destination.records.get(e.employee_id);
      expect(record).toEqual({
        externalId: e.employee_id,
        givenName: e.first_name,
        familyName: e.last_name,
        email: e.work_email,
        employmentStatus: e.status === 'on_leave' ? 'active' : e.status,
        hireDate: e.hire_date,
        department: e.department.toUpperCase(),
      });
    }
    // Redaction: the national id, salary and birth date are neither declared nor sent.
    const sent = JSON.stringify([...s.destination.records.values()]);
    for (const key of ['nationalId', 'salaryAmount', 'salaryCurrency', 'birthDate', 'jobTitle'])
      expect(sent).not.toContain(`"${key}"`);
    for (const e of withEmail) expect(sent).not.toContain(e.national_id);
  });

  it('saves version 2; the next run records it, and a replayed request still finds its run', async () => {
    const saved = await save(VERSION_2);
    expect(saved.version).toBe(2);
    expect(
      (await s.client.getMappingVersion(s.org, s.env, s.sourceConnectionId, s.destinationConnectionId, 1))
        .fields,
    ).toEqual(VERSION_1);
    expect(await s.client.listMappings(s.org, s.env)).toEqual([saved]);

    const done = await run();
    runs.push(done);
    expect(done.status).toBe('completed');
    expect(done.mappingVersion).toBe(2);
    const [first] = [...original.values()].filter((e) => e.work_email !== null);
    expect(s.destination.records.get(first!.employee_id)).toMatchObject({
      department: first!.department,
      salaryCurrency: 'USD',
    });
    expect(JSON.stringify([...s.destination.records.values()])).not.toContain('"salaryAmount"');

    // The mapping is not part of the request: the first run's request, replayed, returns the first run.
    const replayed = await s.client.createRun(
      s.org,
      s.env,
      runRequest(s, { idempotencyKey: runs[0]!.idempotencyKey }),
    );
    expect(replayed.id).toBe(runs[0]!.id);
    expect(replayed.mappingVersion).toBe(1);
  });

  it('answers bad mappings with a 422 naming the problem, and saves no version', async () => {
    const cases: [unknown, Partial<{ source: string; destination: string }>, string, string][] = [
      [
        {
          ...VERSION_1,
          hireDate: { path: 'hire_date', transforms: [{ type: 'trim' }, { type: 'titlecase' }] },
        },
        {},
        'invalid-mapping',
        "fields.hireDate.transforms[1]: unknown transform 'titlecase'",
      ],
      [
        { ...VERSION_1, nickname: { path: 'nick' } },
        {},
        'invalid-mapping',
        'fields.nickname: not a canonical field',
      ],
      [
        { ...VERSION_1, email: undefined },
        {},
        'invalid-mapping',
        'fields.email: required canonical field is not mapped',
      ],
      [
        { ...VERSION_1, email: { path: 'work email' } },
        {},
        'invalid-mapping',
        "fields.email.path: segment 1 ('work email') of path 'work email'",
      ],
      [
        VERSION_1,
        { source: other.sourceConnectionId },
        'unknown-connection',
        `connection ${other.sourceConnectionId} does not exist in this environment`,
      ],
      [
        VERSION_1,
        { source: s.destinationConnectionId },
        'wrong-connection-kind',
        'connection source must be of kind hris-rest, not upsert-rest',
      ],
    ];
    for (const [fields, at, kind, detail] of cases) {
      const problem = await problemOf(save(fields, at));
      expect(problem.status).toBe(422);
      expect(problem.type).toBe(`https://tavio.dev/problems/${kind}`);
      expect(problem.detail).toContain(detail);
    }
    // A connection of another environment answers exactly as one that does not exist.
    const missing = randomUUID();
    const unknown = await problemOf(save(VERSION_1, { destination: missing }));
    const foreign = await problemOf(save(VERSION_1, { destination: other.destinationConnectionId }));
    expect({ ...foreign, detail: foreign.detail?.replace(other.destinationConnectionId, missing) }).toEqual(
      unknown,
    );

    const versions = await s.client.listMappings(s.org, s.env);
    expect(versions.map((m) => m.version)).toEqual([2]);
    const absent = await problemOf(
      s.client.getMappingVersion(s.org, s.env, s.sourceConnectionId, s.destinationConnectionId, 3),
    );
    expect(absent.status).toBe(404);
    // The other environment sees no mapping of this pair, nor any of its own.
    expect(await other.client.listMappings(other.org, other.env)).toEqual([]);
    expect(
      (
        await problemOf(
          other.client.getMapping(other.org, other.env, s.sourceConnectionId, s.destinationConnectionId),
        )
      ).status,
    ).toBe(404);
  });

  it("keeps records' values out of the run histories: the mapping travels as paths and rules", async () => {
    expect(runs).toHaveLength(2);
    for (const done of runs) {
      const text = (await histories(done.namespace, done.workflowId)).map(decodedText).join('\n');
      // The run carries its mapping, as the payload's JSON within the history's: paths and rules.
      expect(text).toContain('\\"path\\":\\"work_email\\"');
      expect(text).toContain('\\"from\\":\\"DD/MM/YYYY\\"');
      // A name as a JSON string, whether in a payload (quotes escaped) or not.
      const quoted = (name: string) => [`"${name}"`, `\\"${name}\\"`];
      const leaked = [...original.values()].flatMap((e) =>
        [
          e.work_email,
          e.work_email?.toUpperCase() ?? null,
          `${e.first_name} ${e.last_name}`,
          ...quoted(e.first_name),
          ...quoted(e.last_name),
          e.national_id,
          dayFirst(e.hire_date),
        ].filter((value): value is string => value !== null && value.length >= 5 && text.includes(value)),
      );
      expect(leaked).toEqual([]);
    }
  });

  it('gives each of concurrent saves its own version', async () => {
    const saved = await Promise.all(Array.from({ length: 5 }, () => save(VERSION_2)));
    expect(saved.map((m) => m.version).sort((a, b) => a - b)).toEqual([3, 4, 5, 6, 7]);
    expect(
      (await s.client.getMapping(s.org, s.env, s.sourceConnectionId, s.destinationConnectionId)).version,
    ).toBe(7);
  });

  it("retires an environment with mappings: they go with the pair's connections", async () => {
    const { environment, receipt } = await s.admin.retireEnvironment(s.org, s.env);
    expect(environment.status).toBe('retired');
    expect(receipt.connectionsDeleted).toBe(2);
    expect(await s.admin.listMappings(s.org, s.env)).toEqual([]);
  });
});
