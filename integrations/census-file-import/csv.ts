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
 * What keeps a header from matching a mapping. Only the mapping's own column names are ever named:
 * a header's other cells may be anything (the first row of a file without a header is an
 * employee; a header whose line break is lost runs into one), so they are given by position.
 */
export interface HeaderProblem {
  /** The mapping's columns the header lacks. */
  missing: string[];
  /** Positions (from 1) of cells that are not one of the mapping's columns. */
  unexpectedAt: number[];
  /** The mapping's columns the header has more than once. */
  repeated: string[];
}

/** Whether a header has exactly the mapping's columns, each once, in any order. */
export function headerProblem(header: readonly string[], mapping: CensusMapping): HeaderProblem | undefined {
  const wanted = new Set(Object.values(mapping));
  const seen = new Set<string>();
  const repeated = new Set<string>();
  const unexpectedAt: number[] = [];
  header.forEach((column, index) => {
    if (!wanted.has(column)) unexpectedAt.push(index + 1);
    else (seen.has(column) ? repeated : seen).add(column);
  });
  const missing = [...wanted].filter((column) => !seen.has(column));
  if (missing.length + unexpectedAt.length + repeated.size === 0) return undefined;
  return { missing, unexpectedAt, repeated: [...repeated] };
}

const positions = (at: number[]) =>
  at.length > 10 ? `${at.slice(0, 10).join(', ')} and ${at.length - 10} more` : at.join(', ');

/** The problem in words: the mapping's column names, and where the header's other cells are. */
export function describeHeaderProblem(problem: HeaderProblem): string {
  const { missing, unexpectedAt, repeated } = problem;
  const parts = [
    missing.length > 0 ? `missing columns ${missing.join(', ')}` : '',
    unexpectedAt.length > 0
      ? `${unexpectedAt.length} ${unexpectedAt.length === 1 ? 'column' : 'columns'} not in the mapping, at ${unexpectedAt.length === 1 ? 'position' : 'positions'} ${positions(unexpectedAt)}`
      : '',
    repeated.length > 0 ? `repeated columns ${repeated.join(', ')}` : '',
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
