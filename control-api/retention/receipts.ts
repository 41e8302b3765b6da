import { and, desc, eq, inArray, lt } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { deletionReceipts, environments, organizations } from '../../db/schema.js';
import { sweepReceiptSchema, SWEEP_WORKFLOW_TYPE } from '../../common/retention.js';
import type { PrefixSweep, SweepReceipt } from '../../common/retention.js';
import { repeatPass } from '../repeated-pass.js';
import type { TemporalClients } from '../temporal-clients.js';
import { ensureSweepSchedule } from './apply.js';
import type { RetentionDeps } from './apply.js';

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
 * in the data plane; its result is read from Temporal and kept only if it holds counts, prefixes
 * and times and nothing else. Answers how many were recorded, and how many results were refused.
 */
export async function collectSweepReceipts(
  deps: { db: Database; temporal: TemporalClients },
  env: Env,
  /** Only sweeps that closed after this time (all of them by default). */
  closedAfter?: Date,
): Promise<{ added: number; refused: number }> {
  return deps.temporal.inNamespace(env.namespace, 'read', async (client) => {
    const closed: { source: string; workflowId: string; runId: string }[] = [];
    const query =
      `WorkflowType = '${SWEEP_WORKFLOW_TYPE}' AND ExecutionStatus = 'Completed'` +
      (closedAfter ? ` AND CloseTime > '${closedAfter.toISOString()}'` : '');
    for await (const execution of client.workflow.list({ query })) {
      closed.push({
        source: `sweep:${execution.workflowId}/${execution.runId}`,
        workflowId: execution.workflowId,
        runId: execution.runId,
      });
    }
    if (closed.length === 0) return { added: 0, refused: 0 };
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
    let refused = 0;
    for (const sweep of closed) {
      if (recorded.has(sweep.source)) continue;
      const result = sweepReceiptSchema.safeParse(
        await client.workflow.getHandle(sweep.workflowId, sweep.runId).result(),
      );
      if (!result.success) {
        refused += 1;
        continue;
      }
      const inserted = await deps.db
        .insert(deletionReceipts)
        .values(receiptValues(env.id, 'sweep', sweep.source, result.data as SweepReceipt))
        .onConflictDoNothing()
        .returning({ id: deletionReceipts.id });
      added += inserted.length;
    }
    return { added, refused };
  });
}

/** An environment's receipts, newest first; with `before`, those that finished before it (paging). */
export async function listReceipts(db: Database, environmentId: string, limit: number, before?: Date) {
  const rows = await db
    .select()
    .from(deletionReceipts)
    .where(
      and(
        eq(deletionReceipts.environmentId, environmentId),
        before ? lt(deletionReceipts.finishedAt, before) : undefined,
      ),
    )
    .orderBy(desc(deletionReceipts.finishedAt))
    .limit(limit);
  return rows.map(receiptView);
}

/** Sweeps are looked for from this long before the previous pass: visibility lags. */
const OVERLAP_MS = 10 * 60_000;

/**
 * In the background, for every active environment: collects the receipts of its sweeps, and gives
 * an environment made before sweeps existed its schedule and lifecycle rules, once per process.
 */
export function startReceiptCollector(
  deps: RetentionDeps & { db: Database },
  onError?: (error: Error) => void,
) {
  /** Per environment, when its sweeps were last collected. */
  const collectedAt = new Map<string, number>();
  const scheduled = new Set<string>();
  return repeatPass(
    async () => {
      const active = await deps.db
        .select({ env: environments, orgSlug: organizations.slug })
        .from(environments)
        .innerJoin(organizations, eq(organizations.id, environments.organizationId))
        .where(eq(environments.status, 'active'));
      for (const { env, orgSlug } of active) {
        try {
          if (!scheduled.has(env.id)) {
            await ensureSweepSchedule(deps, env, orgSlug);
            scheduled.add(env.id);
          }
          const last = collectedAt.get(env.id);
          const passAt = Date.now();
          const collected = await collectSweepReceipts(
            deps,
            env,
            last === undefined ? undefined : new Date(last - OVERLAP_MS),
          );
          collectedAt.set(env.id, passAt);
          if (collected.refused)
            onError?.(
              new Error(`${collected.refused} sweep results of ${env.namespace} refused: not receipts`),
            );
        } catch (error) {
          onError?.(error as Error);
        }
      }
    },
    COLLECT_EVERY_MS,
    onError,
  );
}
