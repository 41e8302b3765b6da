import type { ConnectionRef } from '../../common/connections.js';
import type { SyncTotals } from '../hris-employee-sync/types.js';
import type { FileTransferOptions } from '../../common/file-transfer-types.js';

/**
 * Metadata that crosses Temporal for the census-file-import integration: opaque file ids, sizes,
 * digests and counts. File names and rows stay in the environment's bucket.
 */

/** The canonical employee's fields, each taken from one column of a census file. */
export const CENSUS_FIELDS = [
  'externalId',
  'givenName',
  'familyName',
  'email',
  'birthDate',
  'hireDate',
  'department',
  'jobTitle',
  'salaryAmount',
  'salaryCurrency',
  'nationalId',
  'employmentStatus',
] as const;
export type CensusField = (typeof CENSUS_FIELDS)[number];

/** Canonical field -> column name in the census file's header. */
export type CensusMapping = Record<CensusField, string>;

/** The columns a census file has when a run declares no mapping of its own. */
export const DEFAULT_CENSUS_MAPPING: Readonly<CensusMapping> = Object.freeze({
  externalId: 'employee_id',
  givenName: 'first_name',
  familyName: 'last_name',
  email: 'work_email',
  birthDate: 'birth_date',
  hireDate: 'hire_date',
  department: 'department',
  jobTitle: 'job_title',
  salaryAmount: 'salary_amount',
  salaryCurrency: 'salary_currency',
  nationalId: 'national_id',
  employmentStatus: 'status',
});

export interface CensusImportOptions extends FileTransferOptions {
  pageSize: number;
  mapping: CensusMapping;
}

export interface CensusImportInput {
  source: ConnectionRef;
  destination: ConnectionRef;
  options: CensusImportOptions;
}

/** An import's progress through one file, and its heartbeat: a retry loads no page twice. */
export interface CensusFileProgress {
  /** Readable rows (the header aside) of the pages loaded so far. */
  rows: number;
  pages: number;
  read: number;
  written: number;
  skipped: number;
  /** XOR of the loaded pages' checksums. */
  checksum: string;
}

export interface CensusFileResult extends CensusFileProgress {
  /** Rows skipped for having another number of cells than the header; counted in `read` and `skipped`. */
  malformed: number;
}

export interface CensusImportSummary extends Omit<SyncTotals, 'egress'> {
  files: number;
  bytes: number;
  /** Per file id, the SHA-256 of the file as read from the source. */
  sha256: Record<string, string>;
  rowsMalformed: number;
  sourceDeleted: number;
  durationMs: number;
}
