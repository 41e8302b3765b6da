import type { FileTransferInput, FileTransferSummary } from '../../common/file-transfer-types.js';
import { fileRun } from '../../workflows/file-steps.js';

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
  const { fileSteps, runSteps, eachFile } = fileRun();
  await eachFile(
    () => runSteps.listSourceFiles(input),
    async (file, buffered) => {
      const step = { source: input.source, destination: input.destination, file };
      const current = await fileSteps.bufferSourceFile(step);
      buffered(current);
      // Workers before PGP returned nothing: what they delivered is what was buffered.
      const delivered = (await fileSteps.deliverBufferedFile({ ...step, buffered: current })) ?? current;
      const done = await runSteps.finishFile({
        ...step,
        buffered: current,
        sourceAfter: input.options.sourceAfter,
      });
      summary.files += 1;
      summary.bytes += file.size;
      summary.sha256[file.id] = delivered.sha256;
      if (done.sourceDeleted) summary.sourceDeleted += 1;
    },
  );
  return { ...summary, durationMs: Date.now() - startedAt };
}
