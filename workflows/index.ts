/** The workflow bundle's entry: every workflow type the environment workers run. */
export { hrisEmployeeSync } from './hris-employee-sync.js';
export { sftpFileTransfer } from './sftp-file-transfer.js';
export { censusFileImport } from './census-file-import.js';
