import type { createHrisSyncActivities } from '../integrations/hris-employee-sync/activities.js';

/** Activity signatures for workflows, which import types only. */
export type HrisSyncActivities = ReturnType<typeof createHrisSyncActivities>;
export type { FileTransferActivities } from './file-transfer.js';
export type { CensusImportActivities } from '../integrations/census-file-import/activities.js';
export type { SweepActivities, SweepBatch } from './retention-sweep.js';
export type { SyncMarkActivities } from './sync-marks.js';
export type { WebhookActivities } from './webhook-delivery.js';
