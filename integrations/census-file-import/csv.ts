import { Readable } from 'node:stream';
import { parse } from 'csv-parse';
import type { CsvError } from 'csv-parse';
import type { CensusMapping } from './types.js';
import { toCanonical } from '../hris-employee-sync/mapping.js';
import type { CanonicalEmployee } from '../hris-employee-sync/mapping.js';

/**
 * A census file: CSV, UTF-8 (a byte-order mark is ignored), a header row naming its columns,
 * then one employee per row. Parsed as a stream: memory holds one row at a time, and a row is at
 * most MAX_ROW_BYTES.
 */

export const MAX_ROW_BYTES = 64 * 1024;

/** The one row problem that leaves the rows after it readable: a row with too many or too few cells. */
const ROW_LENGTH = 'CSV_RECORD_INCONSISTENT_FIELDS_LENGTH';

export interface CsvRows {
  /** The header first, then each readable row. */
  rows: AsyncIterable<string[]>;
  /** Rows skipped so far for having another number of cells than the header. */
  readonly malformed: number;
  /**
   * The first problem after which nothing more can be read (an unclosed or stray quote, a row
   * over MAX_ROW_BYTES), by its parser code, and the row where it is (the header is row 1).
   */
  readonly broken: { code: string; row: number } | undefined;
}

/** Parses CSV text arriving in chunks. */
export function csvRows(chunks: AsyncIterable<Uint8Array>): CsvRows {
  const parser = parse({ bom: true, skip_records_with_error: true, max_record_size: MAX_ROW_BYTES });
  const state: { malformed: number; broken: CsvRows['broken'] } = { malformed: 0, broken: undefined };
  parser.on('skip', (error: CsvError) => {
    if (error.code === ROW_LENGTH) state.malformed += 1;
    else state.broken ??= { code: error.code, row: parser.info.records + state.malformed + 1 };
  });
  const source = Readable.from(chunks);
  source.on('error', (error) => parser.destroy(error));
  source.pipe(parser);
  return {
    rows: parser,
    get malformed() {
      return state.malformed;
    },
    get broken() {
      return state.broken;
    },
  };
}

/**
 * What keeps a header from matching a mapping. The first row of a file without a header holds an
 * employee: its cells are named only when the row is evidently a header (it has at least half of
 * the mapping's columns), cut short, at most ten of them.
 */
export interface HeaderProblem {
  missing: string[];
  unexpected: string[];
  repeated: string[];
  /** Set when the first row has fewer than half of the mapping's columns: its cells are not named. */
  notAHeader?: { found: number; wanted: number };
}

const CONTROL = /\p{Cc}/gu;
const shown = (names: string[]) =>
  names.slice(0, 10).map((name) => {
    const clean = name.replace(CONTROL, '?');
    return clean.length > 64 ? `${clean.slice(0, 64)}…` : clean;
  });

/** Whether a header has exactly the mapping's columns, each once, in any order. */
export function headerProblem(header: readonly string[], mapping: CensusMapping): HeaderProblem | undefined {
  const wanted = new Set(Object.values(mapping));
  const seen = new Set<string>();
  const repeated = new Set<string>();
  for (const column of header) (seen.has(column) ? repeated : seen).add(column);
  const missing = [...wanted].filter((column) => !seen.has(column));
  const unexpected = [...seen].filter((column) => !wanted.has(column));
  if (missing.length + unexpected.length + repeated.size === 0) return undefined;
  const found = wanted.size - missing.length;
  if (found * 2 < wanted.size)
    return {
      missing: shown(missing),
      unexpected: [],
      repeated: [],
      notAHeader: { found, wanted: wanted.size },
    };
  return { missing: shown(missing), unexpected: shown(unexpected), repeated: shown([...repeated]) };
}

/** The problem in words: the mapping's column names, and a header's own only when it is one. */
export function describeHeaderProblem(problem: HeaderProblem): string {
  if (problem.notAHeader)
    return `the first row has ${problem.notAHeader.found} of the mapping's ${problem.notAHeader.wanted} columns: the header row is missing or another mapping is needed`;
  const parts = [
    problem.missing.length > 0 ? `missing columns ${problem.missing.join(', ')}` : '',
    problem.unexpected.length > 0 ? `unexpected columns ${problem.unexpected.join(', ')}` : '',
    problem.repeated.length > 0 ? `repeated columns ${problem.repeated.join(', ')}` : '',
  ];
  return `the header does not match the mapping: ${parts.filter(Boolean).join('; ')}`;
}

const DECIMAL = /^-?\d+(\.\d+)?$/;

/**
 * A row mapper for a header matching `mapping`: each canonical field takes its column's cell
 * (the salary as a number); a row that does not fit the canonical shape maps to null.
 */
export function rowMapper(header: readonly string[], mapping: CensusMapping) {
  const fields = Object.entries(mapping).map(([field, column]) => [field, header.indexOf(column)] as const);
  return (row: readonly string[]): CanonicalEmployee | null => {
    const candidate: Record<string, unknown> = {};
    for (const [field, index] of fields) candidate[field] = row[index];
    const salary = candidate.salaryAmount;
    if (typeof salary === 'string' && DECIMAL.test(salary.trim())) candidate.salaryAmount = Number(salary);
    return toCanonical(candidate);
  };
}
