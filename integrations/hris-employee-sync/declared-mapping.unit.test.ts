import { ApplicationFailure } from '@temporalio/common';
import { describe, expect, it } from 'vitest';
import { generateEmployees } from '../../fixtures/employees.js';
import { checkDeclaredFields, externalIdOf, MAPPING_LIMITS, mapperFor } from './declared-mapping.js';
import type { DeclaredFields, DeclaredMapping } from './declared-mapping.js';
import type { Transform } from './declared-transforms.js';
import { mapEmployeeChecked } from './mapping.js';

const REQUIRED: DeclaredFields = {
  externalId: { path: 'employee_id' },
  givenName: { path: 'first_name' },
  familyName: { path: 'last_name' },
  email: { path: 'work_email' },
  employmentStatus: { path: 'status' },
};

/** A mapping of the required fields plus `extra`, checked as the control API checks it. */
function mapping(extra: Record<string, unknown> = {}, version = 1): DeclaredMapping {
  const checked = checkDeclaredFields({ ...REQUIRED, ...extra });
  if (checked.problems) throw new Error(checked.problems.join('; '));
  return { version, fields: checked.fields };
}

const base = {
  employee_id: 'E000001',
  first_name: 'Ada',
  last_name: 'Lovelace',
  work_email: 'ada@example.com',
  status: 'active',
};

/** The value one transform chain makes of `value`, or the skipped record's issue. */
function transformed(transforms: Transform[], value: unknown) {
  const result = mapperFor(mapping({ department: { path: 'v', transforms } }))({ ...base, v: value });
  return result.employee ? { value: result.employee.department } : { skipped: result.skipped };
}
function dated(from: string, value: unknown) {
  const result = mapperFor(mapping({ hireDate: { path: 'v', transforms: [{ type: 'date', from }] } }))({
    ...base,
    v: value,
  });
  return result.employee ? result.employee.hireDate : result.skipped.issues[0]?.message;
}

const problemsOf = (fields: unknown) => checkDeclaredFields(fields).problems ?? [];

describe('declared mapping validation', () => {
  it('accepts the required fields with paths, nested paths and every transform', () => {
    const checked = checkDeclaredFields({
      ...REQUIRED,
      salaryAmount: { path: 'compensation.amount' },
      hireDate: {
        path: 'dates.hired_on',
        transforms: [{ type: 'trim' }, { type: 'date', from: 'DD.MM.YYYY' }],
      },
      department: {
        path: 'dept',
        transforms: [{ type: 'map', values: { ENG: 'Engineering' }, default: 'Other' }],
      },
      jobTitle: { path: 'title', transforms: [{ type: 'lowercase' }, { type: 'uppercase' }] },
    });
    expect(checked.problems).toBeUndefined();
    expect(Object.keys(checked.fields!)).toEqual([
      'externalId',
      'givenName',
      'familyName',
      'email',
      'hireDate',
      'department',
      'jobTitle',
      'salaryAmount',
      'employmentStatus',
    ]);
  });

  it('names an unknown transform by its place and name', () => {
    expect(
      problemsOf({
        ...REQUIRED,
        hireDate: { path: 'hire_date', transforms: [{ type: 'trim' }, { type: 'titlecase' }] },
      }),
    ).toEqual([
      "fields.hireDate.transforms[1]: unknown transform 'titlecase'; known: trim, lowercase, uppercase, date, map",
    ]);
    expect(problemsOf({ ...REQUIRED, hireDate: { path: 'h', transforms: ['trim'] } })).toEqual([
      'fields.hireDate.transforms[0]: a transform is an object with a type',
    ]);
  });

  it('names a field that is not canonical, and each required field left unmapped', () => {
    expect(problemsOf({ ...REQUIRED, nickname: { path: 'nick' } })[0]).toMatch(
      /^fields\.nickname: not a canonical field; canonical fields: externalId, /,
    );
    const partial = { ...REQUIRED, email: undefined, employmentStatus: undefined };
    expect(problemsOf(partial)).toEqual([
      'fields.email: required canonical field is not mapped',
      'fields.employmentStatus: required canonical field is not mapped',
    ]);
    expect(problemsOf({ ...REQUIRED, __proto__: { path: 'x' } })).toEqual([]);
    expect(problemsOf(JSON.parse('{"__proto__": {"path": "x"}}'))[0]).toMatch(
      /^fields\.__proto__: not a canonical field/,
    );
  });

  it('names a bad path: a segment out of its alphabet, empty, too long, or too many segments', () => {
    expect(problemsOf({ ...REQUIRED, email: { path: 'work email' } })).toEqual([
      "fields.email.path: segment 1 ('work email') of path 'work email' must be 1 to 64 of A-Z a-z 0-9 _ -",
    ]);
    expect(problemsOf({ ...REQUIRED, email: { path: 'a..b' } })[0]).toMatch(
      /^fields\.email\.path: segment 2 \(''\)/,
    );
    expect(problemsOf({ ...REQUIRED, email: { path: 'x'.repeat(65) } })[0]).toMatch(
      /^fields\.email\.path: segment 1/,
    );
    expect(problemsOf({ ...REQUIRED, email: { path: 'a.b.c.d.e.f.g.h.i' } })).toEqual([
      'fields.email.path: a path has at most 8 dotted segments, not 9',
    ]);
    expect(problemsOf({ ...REQUIRED, email: { path: 'a.b.c.d.e.f.g.h' } })).toEqual([]);
    expect(problemsOf({ ...REQUIRED, email: {} })[0]).toMatch(/^fields\.email\.path: /);
  });

  it('names a bad transform member: date format, value map entries, an unknown member', () => {
    expect(
      problemsOf({ ...REQUIRED, hireDate: { path: 'h', transforms: [{ type: 'date', from: 'YYYYMMDD' }] } }),
    ).toEqual([
      'fields.hireDate.transforms[0].from: the date format must be one of YYYY-MM-DD, MM/DD/YYYY, DD/MM/YYYY, DD.MM.YYYY, epoch-ms, iso-datetime',
    ]);
    const values = Object.fromEntries(Array.from({ length: 201 }, (_, i) => [`k${i}`, 'v']));
    expect(
      problemsOf({ ...REQUIRED, department: { path: 'd', transforms: [{ type: 'map', values }] } }),
    ).toEqual(['fields.department.transforms[0].values: a value map has at most 200 entries']);
    expect(
      problemsOf({
        ...REQUIRED,
        department: { path: 'd', transforms: [{ type: 'map', values: { a: 'x'.repeat(101) } }] },
      }),
    ).toEqual(['fields.department.transforms[0].values.a: at most 100 characters']);
    expect(
      problemsOf({ ...REQUIRED, department: { path: 'd', transforms: [{ type: 'trim', chars: ' ' }] } })[0],
    ).toMatch(/^fields\.department\.transforms\[0\]: Unrecognized key: "chars"/);
    expect(problemsOf({ ...REQUIRED, department: { path: 'd', format: 'x' } })[0]).toMatch(
      /^fields\.department: Unrecognized key: "format"/,
    );
    expect(
      problemsOf({
        ...REQUIRED,
        department: { path: 'd', transforms: Array.from({ length: 11 }, () => ({ type: 'trim' })) },
      }),
    ).toEqual(['fields.department.transforms: at most 10 transforms']);
  });

  it('refuses fields that are not an object, and a mapping too large to travel with a run', () => {
    expect(problemsOf([])).toEqual(['fields: an object of canonical field -> { path, transforms }']);
    expect(problemsOf(null)).toHaveLength(1);
    const values = (n: number) =>
      Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`${n}-${i}`, 'v'.repeat(20)]));
    const problems = problemsOf({
      ...REQUIRED,
      department: { path: 'd', transforms: [{ type: 'map', values: values(1) }] },
      jobTitle: { path: 'j', transforms: [{ type: 'map', values: values(2) }] },
    });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(
      new RegExp(`^fields: the mapping is \\d+ bytes of JSON, over the limit of ${MAPPING_LIMITS.bytes}`),
    );
  });
});

describe('declared mapping applied to records', () => {
  const [employee] = generateEmployees(1, 11);

  it('without a declared mapping, maps exactly as the fixed mapping does', () => {
    const mapper = mapperFor(undefined);
    for (const record of [...generateEmployees(60, 5), null, 'E1', { employee_id: 'E9' }]) {
      expect(mapper(record)).toEqual(mapEmployeeChecked(record));
    }
  });

  it('redacts by default: only declared canonical fields reach the record, never unmapped source fields', () => {
    const result = mapperFor(
      mapping({ department: { path: 'department' }, salaryCurrency: { path: 'compensation.currency' } }),
    )(employee);
    expect(result.employee).toEqual({
      externalId: employee!.employee_id,
      givenName: employee!.first_name,
      familyName: employee!.last_name,
      email: employee!.work_email,
      employmentStatus: employee!.status,
      department: employee!.department,
      salaryCurrency: 'USD',
    });
    const text = JSON.stringify(result.employee);
    expect(text).not.toContain(employee!.national_id);
    expect(text).not.toContain(String(employee!.compensation.amount));
    expect(Object.keys(result.employee!)).not.toContain('nationalId');
    expect(Object.keys(result.employee!)).not.toContain('salaryAmount');
  });

  it('trims, lower-cases and upper-cases strings, in the declared order', () => {
    expect(transformed([{ type: 'trim' }], '  Sales \t')).toEqual({ value: 'Sales' });
    expect(transformed([{ type: 'lowercase' }], 'SaLes')).toEqual({ value: 'sales' });
    expect(transformed([{ type: 'uppercase' }], 'SaLes')).toEqual({ value: 'SALES' });
    expect(
      transformed([{ type: 'uppercase' }, { type: 'map', values: { SALES: 'Revenue' } }], 'sales'),
    ).toEqual({
      value: 'Revenue',
    });
    expect(
      transformed([{ type: 'map', values: { sales: 'Revenue' } }, { type: 'uppercase' }], 'sales'),
    ).toEqual({
      value: 'REVENUE',
    });
  });

  it('maps values through a value map, with its default for values not in it', () => {
    const status = (value: unknown, withDefault?: string) =>
      mapperFor(
        mapping({
          employmentStatus: {
            path: 'status',
            transforms: [
              {
                type: 'map',
                values: { FT: 'active', PT: 'active', LOA: 'on_leave', '0': 'terminated' },
                default: withDefault,
              },
            ],
          },
        }),
      )({ ...base, status: value });
    expect(status('FT').employee?.employmentStatus).toBe('active');
    expect(status('LOA').employee?.employmentStatus).toBe('on_leave');
    expect(status(0).employee?.employmentStatus).toBe('terminated');
    expect(status('XX', 'terminated').employee?.employmentStatus).toBe('terminated');
    const unmatched = status('XX');
    expect(unmatched.skipped).toEqual({
      reason: 'invalid-fields',
      fields: ['employmentStatus'],
      sourceId: 'E000001',
      issues: [
        {
          path: 'employmentStatus',
          message: 'transforms[0] map: the value is not in the value map, which has no default',
          source: 'status',
        },
      ],
    });
    // A mapped value is still checked against the canonical field.
    expect(status('YY', 'retired').skipped?.fields).toEqual(['employmentStatus']);
  });

  it('reads dates in each format into ISO dates', () => {
    expect(dated('YYYY-MM-DD', '2021-03-07')).toBe('2021-03-07');
    expect(dated('MM/DD/YYYY', '03/07/2021')).toBe('2021-03-07');
    expect(dated('MM/DD/YYYY', '3/7/2021')).toBe('2021-03-07');
    expect(dated('DD/MM/YYYY', '07/03/2021')).toBe('2021-03-07');
    expect(dated('DD.MM.YYYY', '7.3.2021')).toBe('2021-03-07');
    expect(dated('epoch-ms', Date.UTC(2021, 2, 7, 23, 59))).toBe('2021-03-07');
    expect(dated('epoch-ms', String(Date.UTC(2021, 2, 7)))).toBe('2021-03-07');
    expect(dated('iso-datetime', '2021-03-07T23:30:00-05:00')).toBe('2021-03-07');
    expect(dated('iso-datetime', '2021-03-07T10:00:00.123Z')).toBe('2021-03-07');
    expect(dated('DD/MM/YYYY', '29/02/2024')).toBe('2024-02-29');
  });

  it('skips a record whose date is not a date of its format, without throwing', () => {
    expect(dated('DD/MM/YYYY', '31/02/2021')).toBe(
      'transforms[0] date: not a valid date in the form DD/MM/YYYY',
    );
    expect(dated('DD/MM/YYYY', '29/02/2023')).toMatch(/not a valid date/);
    expect(dated('MM/DD/YYYY', '13/01/2021')).toMatch(/not a valid date/);
    expect(dated('YYYY-MM-DD', '2021-3-7')).toMatch(/not a valid date/);
    expect(dated('DD.MM.YYYY', '07/03/2021')).toMatch(/not a valid date/);
    expect(dated('iso-datetime', '2021-03-07')).toMatch(/not a valid date/);
    expect(dated('iso-datetime', '2021-02-30T00:00:00Z')).toMatch(/not a valid date/);
    expect(dated('epoch-ms', 1.5)).toBe('transforms[0] date: epoch-ms expects an integer of milliseconds');
    expect(dated('epoch-ms', 9e15)).toMatch(/not a valid date/);
    expect(dated('DD/MM/YYYY', 20210307)).toBe(
      'transforms[0] date: DD/MM/YYYY expects a string, not a number',
    );
    const result = mapperFor(
      mapping({ hireDate: { path: 'h', transforms: [{ type: 'date', from: 'DD/MM/YYYY' }] } }),
    )({
      ...base,
      h: 'soon',
    });
    expect(result.skipped?.reason).toBe('invalid-fields');
    expect(result.skipped?.fields).toEqual(['hireDate']);
    expect(result.skipped?.issues[0]?.source).toBe('h');
  });

  it('checks each declared field against the canonical field, as the fixed mapping does', () => {
    const mapper = mapperFor(mapping({ hireDate: { path: 'hire_date' }, salaryAmount: { path: 'pay' } }));
    const missing = mapper({ ...base, work_email: null, pay: 1 });
    expect(missing.skipped?.reason).toBe('missing-fields');
    expect(missing.skipped?.fields).toEqual(['email', 'hireDate']);
    expect(missing.skipped?.issues.map((issue) => issue.source)).toEqual(['work_email', 'hire_date']);
    const invalid = mapper({ ...base, hire_date: '2021-03-07', pay: -5 });
    expect(invalid.skipped?.reason).toBe('invalid-fields');
    expect(invalid.skipped?.fields).toEqual(['salaryAmount']);
    expect(mapper('E1').skipped?.reason).toBe('not-an-object');
    expect(mapper({ ...base, hire_date: '2021-03-07', pay: 10 }).employee?.salaryAmount).toBe(10);
  });

  it('leaves a missing value missing through transforms, and refuses a value of the wrong type', () => {
    const mapper = mapperFor(
      mapping({ email: { path: 'work_email', transforms: [{ type: 'trim' }, { type: 'lowercase' }] } }),
    );
    expect(mapper({ ...base, work_email: '  ADA@Example.COM ' }).employee?.email).toBe('ada@example.com');
    expect(mapper({ ...base, work_email: undefined }).skipped?.reason).toBe('missing-fields');
    const wrong = mapper({ ...base, work_email: 42 });
    expect(wrong.skipped?.reason).toBe('invalid-fields');
    expect(wrong.skipped?.issues[0]?.message).toBe('transforms[0] trim: expects a string, not a number');
  });

  it("reads a record's own members only, never its prototype's", () => {
    const mapper = mapperFor(
      mapping({ department: { path: 'constructor' }, jobTitle: { path: 'a.toString' } }),
    );
    const result = mapper({ ...base, a: {} });
    expect(result.skipped?.fields).toEqual(['department', 'jobTitle']);
    expect(result.skipped?.reason).toBe('missing-fields');
  });

  it('fails for good on a mapping that does not validate, naming the problem', () => {
    const bad = { version: 3, fields: { ...REQUIRED, email: { path: 'a b' } } } as DeclaredMapping;
    let thrown: unknown;
    try {
      mapperFor(bad);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(ApplicationFailure);
    expect((thrown as ApplicationFailure).type).toBe('InvalidMapping');
    expect((thrown as ApplicationFailure).nonRetryable).toBe(true);
    expect((thrown as ApplicationFailure).message).toMatch(
      /^declared mapping version 3 is invalid: fields\.email\.path/,
    );
  });

  it('compiles a mapping once and maps a page of records with it', () => {
    const declared = mapping({ department: { path: 'department', transforms: [{ type: 'uppercase' }] } });
    const employees = generateEmployees(100, 9);
    const mapper = mapperFor(declared);
    const mapped = employees.map(mapper);
    expect(mapped.filter((r) => r.employee)).toHaveLength(98);
    expect(mapped.filter((r) => r.skipped?.fields.includes('email'))).toHaveLength(2);
    expect(mapped[0]!.employee?.department).toBe(employees[0]!.department.toUpperCase());
    expect(mapperFor(declared)(employees[0])).toEqual(mapped[0]);
  });
});

describe("a record's id by the mapping's externalId rule (tombstones)", () => {
  it('without a declared mapping, is employee_id as the fixed mapping reads it', () => {
    const idOf = externalIdOf(undefined);
    expect(idOf({ employee_id: 'E1', deleted_at: 'x' })).toBe('E1');
    expect(idOf({ employee_id: 42 })).toBe('42');
    expect(idOf({ employee_id: '' })).toBeNull();
    expect(idOf({ id: 'E1' })).toBeNull();
  });

  it('follows the declared path and transforms, as the upserts of the record did', () => {
    const declared = {
      version: 2,
      fields: {
        ...REQUIRED,
        externalId: { path: 'ids.hr', transforms: [{ type: 'trim' }, { type: 'lowercase' }] },
      },
    } as DeclaredMapping;
    const idOf = externalIdOf(declared);
    const record = { ...base, ids: { hr: '  HR-9 ' } };
    expect(idOf(record)).toBe('hr-9');
    expect(idOf(record)).toBe(mapperFor(declared)(record).employee?.externalId);
    // The fixed mapping's employee_id is not the declared id.
    expect(idOf({ employee_id: 'E1', deleted_at: 'x' })).toBeNull();
  });

  it('gives null when the rule gives no non-empty string: missing, blank, a failing transform, a number', () => {
    const through = (transforms: Transform[]) =>
      externalIdOf({ version: 1, fields: { ...REQUIRED, externalId: { path: 'v', transforms } } });
    expect(through([{ type: 'trim' }])({ v: '   ' })).toBeNull();
    expect(through([])({})).toBeNull();
    expect(through([])({ v: 7 })).toBeNull();
    expect(through([{ type: 'date', from: 'YYYY-MM-DD' }])({ v: 'not a date' })).toBeNull();
    expect(through([{ type: 'map', values: { a: 'A1' } }])({ v: 'a' })).toBe('A1');
  });
});
