import type { createHrisSyncActivities } from './hris-sync.js';

/** Activity signatures for workflows, which import types only. */
export type HrisSyncActivities = ReturnType<typeof createHrisSyncActivities>;
export type { FileTransferActivities } from './file-transfer.js';
export type { CensusImportActivities } from './census-import.js';
