import type { CensusImportSummary } from './census-file-import/types.js';
import { censusFileImportDefinition } from './census-file-import/definition.js';
import type { FileTransferSummary } from '../common/file-transfer-types.js';
import type { HrisSyncSummary } from './hris-employee-sync/types.js';
import { hrisEmployeeSyncDefinition } from './hris-employee-sync/definition.js';
import { sftpFileTransferDefinition } from './sftp-file-transfer/definition.js';

/**
 * The integrations shipped in code, each from its own folder: a workflow type, the connection kind
 * of each role, and an options schema. The control API validates every run against its entry.
 */
export const INTEGRATIONS = {
  'hris-employee-sync': hrisEmployeeSyncDefinition,
  'sftp-file-transfer': sftpFileTransferDefinition,
  'census-file-import': censusFileImportDefinition,
} as const;
export type IntegrationName = keyof typeof INTEGRATIONS;

export function isIntegration(name: string): name is IntegrationName {
  return Object.hasOwn(INTEGRATIONS, name);
}

/** What a completed run of each integration returns: counts, sizes and digests, never records or names. */
export interface SummaryOf {
  'hris-employee-sync': HrisSyncSummary;
  'sftp-file-transfer': FileTransferSummary;
  'census-file-import': CensusImportSummary;
}
export type RunSummary = SummaryOf[IntegrationName];
