import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  proxyActivities,
} from '@temporalio/workflow';
import type * as activities from '../activities/types.js';
import type { BufferedFileMeta, ListedFile } from '../common/file-transfer-types.js';
import { RETRY } from './retry.js';

/** The steps of workflows that move files from an SFTP source through the environment's bucket. */

/** Steps that move a whole file heartbeat as they go; a worker that died is noticed after 30 s. */
export const fileSteps = proxyActivities<
  activities.FileTransferActivities & activities.CensusImportActivities
>({
  startToCloseTimeout: '2 hours',
  heartbeatTimeout: '30 seconds',
  retry: RETRY,
});

/** Steps on the run's records: listing, finishing a file, dropping what the run left. */
export const runSteps = proxyActivities<activities.FileTransferActivities>({
  startToCloseTimeout: '2 minutes',
  heartbeatTimeout: '30 seconds',
  retry: RETRY,
});

/** A step's failure, its type kept, saying what became of the file under way. */
function noting(error: unknown, what: string): unknown {
  if (!(error instanceof ActivityFailure) || !(error.cause instanceof ApplicationFailure)) return error;
  const { type, message } = error.cause;
  return ApplicationFailure.create({
    type: type ?? undefined,
    message: `${message}; ${what}`,
    nonRetryable: true,
  });
}

/**
 * Moves each listed file with `move`, which reports its file's buffered copy once it has one,
 * then drops what the run left in the bucket, whether it completed, failed or was cancelled. A
 * failure while a file was under way says that its buffered copy was deleted.
 */
export async function eachFile(
  files: readonly ListedFile[],
  move: (file: ListedFile, buffered: (meta: BufferedFileMeta) => void) => Promise<void>,
): Promise<void> {
  let current: BufferedFileMeta | undefined;
  let underWay = false;
  try {
    for (const file of files) {
      underWay = true;
      await move(file, (meta) => (current = meta));
      current = undefined;
      underWay = false;
    }
  } catch (error) {
    const bufferedKeys = current ? [current.key] : [];
    await CancellationScope.nonCancellable(() => runSteps.discardRunFiles({ bufferedKeys }));
    throw underWay ? noting(error, 'its buffered copy was deleted') : error;
  }
  await runSteps.discardRunFiles({ bufferedKeys: [] });
}
