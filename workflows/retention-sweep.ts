import { isCancellation, proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { SweepActivities, SweepBatch } from '../activities/types.js';
import { emptySweep, SWEEP_ATTEMPTS } from '../common/retention.js';
import type { PrefixSweep, SweepInput, SweepReceipt, SweptPrefix } from '../common/retention.js';
import { RETRY } from './retry.js';

const { sweepPrefix } = proxyActivities<SweepActivities>({
  startToCloseTimeout: '15 minutes',
  heartbeatTimeout: '1 minute',
  retry: { ...RETRY, maximumAttempts: SWEEP_ATTEMPTS },
});

/**
 * retentionSweep: started every hour by the environment's schedule, in its own namespace, on its
 * region's queue. Under each prefix the policy governs, deletes what was last written before the
 * policy's duration, and returns a receipt of what the storage service reported deleted: counts,
 * bytes and times per prefix, never a name. A prefix whose step keeps failing is marked incomplete;
 * the others are still swept.
 */
export async function retentionSweep(input: SweepInput): Promise<SweepReceipt> {
  const startedAt = workflowInfo().runStartTime;
  const prefixes: PrefixSweep[] = [];
  for (const [prefix, keepMs] of Object.entries(input.keepForMs) as [SweptPrefix, number][]) {
    // Whole seconds: storage services list object times to the second.
    const olderThan = new Date(Math.floor((startedAt.getTime() - keepMs) / 1000) * 1000).toISOString();
    const swept = emptySweep(`${prefix}/`, olderThan);
    for (let more = true; more;) {
      let batch: SweepBatch;
      try {
        batch = await sweepPrefix({ prefix, olderThan });
      } catch (error) {
        // A sweep that is cancelled ends as cancelled; a step that failed for good (its last
        // attempt answers what it deleted, so this is a refusal) leaves the prefix incomplete.
        if (isCancellation(error)) throw error;
        swept.complete = false;
        break;
      }
      swept.objects += batch.objects;
      swept.bytes += batch.bytes;
      swept.uploadsAborted += batch.uploadsAborted;
      swept.oldest = [swept.oldest, batch.oldest].filter((at) => at !== null).sort()[0] ?? null;
      swept.newest =
        [swept.newest, batch.newest]
          .filter((at) => at !== null)
          .sort()
          .at(-1) ?? null;
      swept.complete &&= batch.complete;
      more = batch.more;
    }
    prefixes.push(swept);
  }
  return {
    policyVersion: input.policyVersion,
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    prefixes,
  };
}
