import {
  ActivityCancellationType,
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  patched,
  proxyActivities,
} from '@temporalio/workflow';
import type * as activities from '../activities/types.js';
import type { BufferedFileMeta, ListedFile, SourceListing } from '../common/file-transfer-types.js';
import { RETRY } from './retry.js';

/** The steps of workflows that move files from an SFTP source through the environment's bucket. */

/**
 * The activities of a file run. Waiting for a cancelled step to end (not only asking it to) means
 * that what the run then drops is all it will ever have written.
 */
function stepsOf(cancellationType: ActivityCancellationType) {
  return {
    /** Steps that move a whole file heartbeat as they go; a worker that died is noticed after 30 s. */
    fileSteps: proxyActivities<activities.FileTransferActivities & activities.CensusImportActivities>({
      startToCloseTimeout: '2 hours',
      heartbeatTimeout: '30 seconds',
      retry: RETRY,
      cancellationType,
    }),
    /** Steps on the run's records: listing, finishing a file, dropping what the run left. */
    runSteps: proxyActivities<activities.FileTransferActivities>({
      startToCloseTimeout: '2 minutes',
      heartbeatTimeout: '30 seconds',
      retry: RETRY,
      cancellationType,
    }),
  };
}

/** Runs from before: a cancelled step was abandoned, and a failed listing dropped nothing. */
const FIRST_STEPS = stepsOf(ActivityCancellationType.TRY_CANCEL);
const STEPS = stepsOf(ActivityCancellationType.WAIT_CANCELLATION_COMPLETED);
const CLEANUP_WHATEVER_ENDS_THE_RUN = 'file-run-cleanup-whatever-ends-it';

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

/** What a file run's steps did, counted. */
export interface FileRunTotals {
  files: number;
  bytes: number;
  sourceDeleted: number;
}

/**
 * A file run's steps, and `eachFile`: it lists the source's new files for the run's input, and for each
 * one buffers it, hands it to `handle` (deliver it, import it...), and finishes it (buffered copy
 * dropped, source file kept or deleted, file recorded in the ledger). Then it drops what the run
 * left in the bucket, whether it completed, failed or was cancelled (a cancelled step is waited
 * for first). A failure while a file was under way says that its buffered copy was deleted.
 */
export function fileRun() {
  const cleansUpAll = patched(CLEANUP_WHATEVER_ENDS_THE_RUN);
  const steps = cleansUpAll ? STEPS : FIRST_STEPS;
  const discard = (bufferedKeys: string[]) => steps.runSteps.discardRunFiles({ bufferedKeys });
  async function eachFile(
    run: SourceListing & { options: { sourceAfter: 'keep' | 'delete' } },
    handle: (file: ListedFile, buffered: BufferedFileMeta) => Promise<void>,
  ): Promise<FileRunTotals> {
    const totals = { files: 0, bytes: 0, sourceDeleted: 0 };
    let buffered: BufferedFileMeta | undefined;
    let underWay = false;
    // Runs from before listed outside of what cleans up.
    const list = () => steps.runSteps.listSourceFiles(run);
    const files = cleansUpAll ? undefined : await list();
    try {
      for (const file of files ?? (await list())) {
        underWay = true;
        const step = { source: run.source, file };
        buffered = await steps.fileSteps.bufferSourceFile(step);
        await handle(file, buffered);
        const done = await steps.runSteps.finishFile({
          ...step,
          buffered,
          sourceAfter: run.options.sourceAfter,
        });
        totals.files += 1;
        totals.bytes += file.size;
        if (done.sourceDeleted) totals.sourceDeleted += 1;
        buffered = undefined;
        underWay = false;
      }
    } catch (error) {
      const bufferedKeys = buffered ? [buffered.key] : [];
      await CancellationScope.nonCancellable(() => discard(bufferedKeys));
      throw underWay ? noting(error, 'its buffered copy was deleted') : error;
    }
    await (cleansUpAll ? CancellationScope.nonCancellable(() => discard([])) : discard([]));
    return totals;
  }
  return { ...steps, eachFile };
}
