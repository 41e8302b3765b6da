import { proxyActivities } from '@temporalio/workflow';
import type * as activities from '../activities/types.js';
import type { CensusImportInput, CensusImportSummary } from '../common/census-import-types.js';
import { EMPTY_CHECKSUM, xorHex } from '../common/checksums.js';
import { FailureType } from '../common/failures.js';
import type { BufferedFileMeta } from '../common/file-transfer-types.js';

const RETRY = {
  initialInterval: '1 second',
  backoffCoefficient: 2,
  maximumInterval: '30 seconds',
  nonRetryableErrorTypes: Object.values(FailureType),
};

/** Steps that read a whole file heartbeat as they go; a worker that died is noticed after 30 s. */
const { bufferSourceFile, importCensusFile } = proxyActivities<
  activities.FileTransferActivities & activities.CensusImportActivities
>({
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
 * census-file-import: lists the source's new census files, then for each one buffers it into the
 * environment's bucket (sealed), imports it (checked whole, then mapped and upserted to the
 * destination in pages), and finishes it (buffered copy dropped, source file kept or deleted, file
 * recorded as imported). A file refused by its check is quarantined and fails the run; files
 * imported before it stay imported.
 */
export async function censusFileImport(input: CensusImportInput): Promise<CensusImportSummary> {
  const startedAt = Date.now();
  const summary = {
    files: 0,
    bytes: 0,
    sha256: {} as Record<string, string>,
    recordsRead: 0,
    recordsWritten: 0,
    recordsSkipped: 0,
    rowsMalformed: 0,
    pages: 0,
    checksum: EMPTY_CHECKSUM,
    sourceDeleted: 0,
  };
  const files = await listSourceFiles(input);
  let current: BufferedFileMeta | undefined;
  try {
    for (const file of files) {
      const step = { source: input.source, file };
      current = await bufferSourceFile(step);
      const imported = await importCensusFile({
        source: input.source,
        destination: input.destination,
        file,
        buffered: current,
        pageSize: input.options.pageSize,
        mapping: input.options.mapping,
      });
      const done = await finishFile({ ...step, buffered: current, sourceAfter: input.options.sourceAfter });
      summary.files += 1;
      summary.bytes += file.size;
      summary.sha256[file.id] = current.sha256;
      summary.recordsRead += imported.read;
      summary.recordsWritten += imported.written;
      summary.recordsSkipped += imported.skipped;
      summary.rowsMalformed += imported.malformed;
      summary.pages += imported.pages;
      summary.checksum = xorHex(summary.checksum, imported.checksum);
      current = undefined;
      if (done.sourceDeleted) summary.sourceDeleted += 1;
    }
  } finally {
    await discardRunFiles({ bufferedKeys: current ? [current.key] : [] });
  }
  return { ...summary, durationMs: Date.now() - startedAt };
}
