import { proxyActivities } from '@temporalio/workflow';
import type * as activities from '../activities/types.js';
import type {
  BufferedFileMeta,
  FileTransferInput,
  FileTransferSummary,
} from '../common/file-transfer-types.js';
import { FailureType } from '../common/failures.js';

const RETRY = {
  initialInterval: '1 second',
  backoffCoefficient: 2,
  maximumInterval: '30 seconds',
  nonRetryableErrorTypes: Object.values(FailureType),
};

/** Steps that move a file heartbeat after each part; a worker that died is noticed after 30 s. */
const { bufferSourceFile, deliverBufferedFile } = proxyActivities<activities.FileTransferActivities>({
  startToCloseTimeout: '2 hours',
  heartbeatTimeout: '30 seconds',
  retry: RETRY,
});

const { listSourceFiles, finishFile, discardRunFiles } = proxyActivities<activities.FileTransferActivities>({
  startToCloseTimeout: '2 minutes',
  heartbeatTimeout: '30 seconds',
  retry: RETRY,
});

/**
 * sftp-file-transfer (managed file transfer): lists the source's new files, then for each one
 * buffers it into the environment's bucket (sealed), delivers it to the destination (temporary
 * name, verified, renamed), and finishes it (buffered copy dropped, source file kept or deleted,
 * file recorded as transferred). Each step is an activity that resumes where its last attempt
 * stopped. A run that fails drops what it buffered; files delivered before stay delivered.
 */
export async function sftpFileTransfer(input: FileTransferInput): Promise<FileTransferSummary> {
  const startedAt = Date.now();
  const summary = { files: 0, bytes: 0, sha256: {} as Record<string, string>, sourceDeleted: 0 };
  const files = await listSourceFiles(input);
  let current: BufferedFileMeta | undefined;
  try {
    for (const file of files) {
      const step = { source: input.source, destination: input.destination, file };
      current = await bufferSourceFile(step);
      // Workers before PGP returned nothing: what they delivered is what was buffered.
      const delivered = (await deliverBufferedFile({ ...step, buffered: current })) ?? current;
      const done = await finishFile({ ...step, buffered: current, sourceAfter: input.options.sourceAfter });
      summary.files += 1;
      summary.bytes += file.size;
      summary.sha256[file.id] = delivered.sha256;
      current = undefined;
      if (done.sourceDeleted) summary.sourceDeleted += 1;
    }
  } finally {
    await discardRunFiles({ bufferedKeys: current ? [current.key] : [] });
  }
  return { ...summary, durationMs: Date.now() - startedAt };
}
