import { and, desc, eq, inArray } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { deletionReceipts, environments } from '../../db/schema.js';
import { SWEEP_WORKFLOW_TYPE } from '../../common/retention.js';
import type { PrefixSweep, SweepReceipt } from '../../common/retention.js';
import { repeatPass } from '../repeated-pass.js';
import type { TemporalClients } from '../temporal-clients.js';

type Env = typeof environments.$inferSelect;
type ReceiptRow = typeof deletionReceipts.$inferSelect;

/** How often closed sweeps are turned into receipts in the background. */
const COLLECT_EVERY_MS = 30_000;

/** A receipt from what was deleted, per prefix: its totals are the prefixes' sums. */
export function receiptValues(
  environmentId: string,
  kind: ReceiptRow['kind'],
  source: string,
  receipt: Omit<SweepReceipt, 'policyVersion'> & { policyVersion: number | null },
) {
  return {
    environmentId,
    kind,
    source,
    policyVersion: receipt.policyVersion,
    startedAt: new Date(receipt.startedAt),
    finishedAt: new Date(receipt.finishedAt),
    objectsDeleted: receipt.prefixes.reduce((sum, prefix) => sum + prefix.objects, 0),
    bytesDeleted: receipt.prefixes.reduce((sum, prefix) => sum + prefix.bytes, 0),
    prefixes: receipt.prefixes,
    complete: receipt.prefixes.every((prefix) => prefix.complete),
  } satisfies typeof deletionReceipts.$inferInsert;
}

export function receiptView(row: ReceiptRow) {
  return {
    id: row.id,
    kind: row.kind,
    policyVersion: row.policyVersion,
    startedAt: row.startedAt.toISOString(),
    finishedAt: row.finishedAt.toISOString(),
    objectsDeleted: row.objectsDeleted,
    bytesDeleted: row.bytesDeleted,
    prefixes: row.prefixes as PrefixSweep[],
    complete: row.complete,
  };
}

/**
 * Records a receipt for each completed sweep of the environment that has none yet. The sweep ran
 * in the data plane; its result (counts, bytes, times, never a name) is read from Temporal.
 */
export async function collectSweepReceipts(
  deps: { db: Database; temporal: TemporalClients },
  env: Env,
): Promise<number> {
  return deps.temporal.inNamespace(env.namespace, 'read', async (client) => {
    const closed: { source: string; workflowId: string; runId: string }[] = [];
    const query = `WorkflowType = '${SWEEP_WORKFLOW_TYPE}' AND ExecutionStatus = 'Completed'`;
    for await (const execution of client.workflow.list({ query })) {
      closed.push({
        source: `sweep:${execution.workflowId}/${execution.runId}`,
        workflowId: execution.workflowId,
        runId: execution.runId,
      });
    }
    if (closed.length === 0) return 0;
    const known = await deps.db
      .select({ source: deletionReceipts.source })
      .from(deletionReceipts)
      .where(
        and(
          eq(deletionReceipts.environmentId, env.id),
          inArray(
            deletionReceipts.source,
            closed.map((sweep) => sweep.source),
          ),
        ),
      );
    const recorded = new Set(known.map((row) => row.source));
    let added = 0;
    for (const sweep of closed) {
      if (recorded.has(sweep.source)) continue;
      const receipt = (await client.workflow
        .getHandle(sweep.workflowId, sweep.runId)
        .result()) as SweepReceipt;
      const inserted = await deps.db
        .insert(deletionReceipts)
        .values(receiptValues(env.id, 'sweep', sweep.source, receipt))
        .onConflictDoNothing()
        .returning({ id: deletionReceipts.id });
      added += inserted.length;
    }
    return added;
  });
}

export async function listReceipts(db: Database, environmentId: string, limit: number) {
  const rows = await db
    .select()
    .from(deletionReceipts)
    .where(eq(deletionReceipts.environmentId, environmentId))
    .orderBy(desc(deletionReceipts.finishedAt))
    .limit(limit);
  return rows.map(receiptView);
}

/** Collects the receipts of every active environment's sweeps, in the background. */
export function startReceiptCollector(
  deps: { db: Database; temporal: TemporalClients },
  onError?: (error: Error) => void,
) {
  return repeatPass(
    async () => {
      const active = await deps.db.select().from(environments).where(eq(environments.status, 'active'));
      for (const env of active)
        await collectSweepReceipts(deps, env).catch((error: Error) => onError?.(error));
    },
    COLLECT_EVERY_MS,
    onError,
  );
}
