import { desc, eq } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { retentionPolicies } from '../../db/schema.js';
import { DEFAULT_RETENTION } from '../../common/retention.js';
import type { RetentionSettings } from '../../common/retention.js';

/** A policy version in force: its settings, and who set it when (version 0: the defaults). */
export interface RetentionPolicy extends RetentionSettings {
  version: number;
  createdAt: string | null;
  createdByKeyId: string | null;
}

type Executor = Pick<Database, 'select'>;

function policyOf(row: typeof retentionPolicies.$inferSelect): RetentionPolicy {
  return {
    version: row.version,
    tmpBufferHours: row.tmpBufferHours,
    transferredFileDays: row.transferredFileDays,
    quarantineDays: row.quarantineDays,
    runLogDays: row.runLogDays,
    historyDays: row.historyDays,
    runLogDetail: row.runLogDetail,
    createdAt: row.createdAt.toISOString(),
    createdByKeyId: row.createdByKeyId,
  };
}

/** The environment's policy in force: its newest version, or the defaults as version 0. */
export async function currentPolicy(db: Executor, environmentId: string): Promise<RetentionPolicy> {
  const [row] = await db
    .select()
    .from(retentionPolicies)
    .where(eq(retentionPolicies.environmentId, environmentId))
    .orderBy(desc(retentionPolicies.version))
    .limit(1);
  return row ? policyOf(row) : { ...DEFAULT_RETENTION, version: 0, createdAt: null, createdByKeyId: null };
}

/** Every stored version, newest first. */
export async function policyVersions(db: Executor, environmentId: string): Promise<RetentionPolicy[]> {
  const rows = await db
    .select()
    .from(retentionPolicies)
    .where(eq(retentionPolicies.environmentId, environmentId))
    .orderBy(desc(retentionPolicies.version));
  return rows.map(policyOf);
}

/** The settings of a policy, without its version and authorship. */
export function settingsOf(policy: RetentionPolicy): RetentionSettings {
  const { tmpBufferHours, transferredFileDays, quarantineDays, runLogDays, historyDays, runLogDetail } =
    policy;
  return { tmpBufferHours, transferredFileDays, quarantineDays, runLogDays, historyDays, runLogDetail };
}
