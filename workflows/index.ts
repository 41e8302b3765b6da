/** The workflow bundle's entry: every workflow type the environment workers run. */
export { hrisEmployeeSync } from '../integrations/hris-employee-sync/workflow.js';
export { sftpFileTransfer } from '../integrations/sftp-file-transfer/workflow.js';
export { censusFileImport } from '../integrations/census-file-import/workflow.js';
export { retentionSweep } from './retention-sweep.js';
export { webhookDelivery } from './webhook-delivery.js';
