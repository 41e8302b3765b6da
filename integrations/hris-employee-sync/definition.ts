import { z } from 'zod';
import type { ConnectionKind } from '../../common/connections.js';

export const hrisSyncOptionsSchema = z
  .object({
    pageSize: z.number().int().min(1).max(500).default(100),
    // Up to 200 pages per activity, a few events each: 500 pages keep a history to a few dozen
    // events. Fewer makes executions that end within a second, and Temporal holds back the first
    // task of a run that follows one sooner than its minimal interval (1 s by default).
    pagesPerExecution: z.number().int().min(1).max(1000).default(500),
    // `incremental`: only what changed since the connection pair's last completed run (see the workflow).
    mode: z.enum(['full', 'incremental']).default('full'),
  })
  .strict();

/** hris-employee-sync in the catalog: pages of employees from an HRIS API to an upsert API. */
export const hrisEmployeeSyncDefinition = {
  workflowType: 'hrisEmployeeSync',
  connections: { source: 'hris-rest', destination: 'upsert-rest' } as Record<string, ConnectionKind>,
  options: hrisSyncOptionsSchema,
};
