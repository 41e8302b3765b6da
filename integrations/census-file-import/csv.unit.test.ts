import { describe, expect, it } from 'vitest';
import { csvRows, describeHeaderProblem, headerProblem, MAX_ROW_BYTES, rowMapper } from './csv.js';
import { DEFAULT_CENSUS_MAPPING } from './types.js';
import { censusCsv, CENSUS_COLUMNS } from './fixture.js';
import { generateEmployees } from '../../fixtures/employees.js';

/** Parses `text` given in chunks of `size` bytes: rows, then the counts of what was skipped. */
async function parsed(text: string, size = 7) {
  const bytes = Buffer.from(text);
  const chunks = async function* () {
    for (let at = 0; at < bytes.length; at += size) yield bytes.subarray(at, at + size);
  };
  const csv = csvRows(chunks());
  const rows: string[][] = [];
  for await (const row of csv.rows) rows.push(row);
  return { rows, malformed: csv.malformed, broken: csv.broken };
}

describe('a census file read as a stream', () => {
  it('gives the header and the rows, whatever the chunks, a byte-order mark and CRLF ends ignored', async () => {
    const { rows, malformed, broken } = await parsed('\ufeffa,b\r\n1,"x, ""y"""\r\n2,é\r\n', 3);
    expect(rows).toEqual([
      ['a', 'b'],
      ['1', 'x, "y"'],
      ['2', 'é'],
    ]);
    expect([malformed, broken]).toEqual([0, undefined]);
  });

  it('skips and counts rows with another number of cells, and reads on', async () => {
    const { rows, malformed, broken } = await parsed('a,b\n1,2\n3\n4,5,6\n7,8\n');
    expect(rows).toEqual([
      ['a', 'b'],
      ['1', '2'],
      ['7', '8'],
    ]);
    expect([malformed, broken]).toEqual([2, undefined]);
  });

  it('says where a file stops being readable: an unclosed quote, a stray quote, a row over the limit', async () => {
    expect((await parsed('a,b\n1,2\n3\n3,"4\n5,6\n')).broken).toEqual({
      code: 'CSV_QUOTE_NOT_CLOSED',
      row: 4,
    });
    expect((await parsed('a,b\n1,"2"x\n5,6\n')).broken).toMatchObject({ code: 'CSV_INVALID_CLOSING_QUOTE' });
    const long = await parsed(`a,b\n1,2\n3,${'x'.repeat(MAX_ROW_BYTES + 1)}\n`, 4096);
    expect(long.broken).toEqual({ code: 'CSV_MAX_RECORD_SIZE', row: 3 });
    expect(long.rows).toEqual([
      ['a', 'b'],
      ['1', '2'],
    ]);
  });
});

describe("a census file's header against a mapping", () => {
  it('matches the mapping’s columns in any order', () => {
    expect(headerProblem([...CENSUS_COLUMNS].reverse(), DEFAULT_CENSUS_MAPPING)).toBeUndefined();
  });

  it("names the mapping's missing and repeated columns, and where the header's other cells are", () => {
    const header = [...CENSUS_COLUMNS.filter((c) => c !== 'work_email'), 'email', 'status'];
    const problem = headerProblem(header, DEFAULT_CENSUS_MAPPING)!;
    expect(problem).toEqual({ missing: ['work_email'], unexpectedAt: [12], repeated: ['status'] });
    expect(describeHeaderProblem(problem)).toBe(
      'the header does not match the mapping: missing columns work_email; 1 column not in the mapping, at position 12; repeated columns status',
    );
  });

  it('never names the cells of a first row that is not a header, nor of one that runs into an employee', () => {
    const [first] = generateEmployees(1);
    const [header, row] = censusCsv([first!]).split('\n');
    // A file without a header row, and one whose header lost its line break.
    for (const cells of [row!.split(','), `${header}${row}`.split(',')]) {
      const words = describeHeaderProblem(headerProblem(cells, DEFAULT_CENSUS_MAPPING)!);
      for (const value of Object.values(first!).flatMap((v) =>
        typeof v === 'object' && v ? Object.values(v) : [v],
      ))
        if (typeof value === 'string' && value.length > 3) expect(words).not.toContain(value);
    }
    expect(describeHeaderProblem(headerProblem(row!.split(','), DEFAULT_CENSUS_MAPPING)!)).toMatch(
      /^the header does not match the mapping: missing columns employee_id, .*; 12 columns not in the mapping, at positions 1, 2, .*10 and 2 more$/,
    );
  });
});

describe('a census row mapped to a canonical employee', () => {
  const employees = generateEmployees(60);
  const [header, ...rows] = censusCsv(employees)
    .trim()
    .split('\n')
    .map((line) => line.split(','));

  it('takes each field from its column, the salary as a number', () => {
    const map = rowMapper(header!, DEFAULT_CENSUS_MAPPING);
    const e = employees[0]!;
    expect(map(rows[0]!)).toEqual({
      externalId: e.employee_id,
      givenName: e.first_name,
      familyName: e.last_name,
      email: e.work_email,
      birthDate: e.birth_date,
      hireDate: e.hire_date,
      department: e.department,
      jobTitle: e.job_title,
      salaryAmount: e.compensation.amount,
      salaryCurrency: 'USD',
      nationalId: e.national_id,
      employmentStatus: e.status,
      // A census file has no termination dates.
      terminationDate: null,
    });
  });

  it('skips (null) a row that does not fit: an empty email, a salary that is not a number', () => {
    const map = rowMapper(header!, DEFAULT_CENSUS_MAPPING);
    // The fixture leaves every 50th employee without a work email.
    expect(map(rows[49]!)).toBeNull();
    const salary = header!.indexOf('salary_amount');
    expect(map(rows[0]!.map((cell, i) => (i === salary ? '12k' : cell)))).toBeNull();
  });
});
