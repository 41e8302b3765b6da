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
  const sha256: Record<string, string> = {};
  const { fileSteps, eachFile } = fileRun();
  const totals = await eachFile(input, async (file, buffered) => {
    const step = { source: input.source, destination: input.destination, file, buffered };
    // Workers before PGP returned nothing: what they delivered is what was buffered.
    const delivered = (await fileSteps.deliverBufferedFile(step)) ?? buffered;
    sha256[file.id] = delivered.sha256;
  });
  return { ...totals, sha256, durationMs: Date.now() - startedAt };
}
