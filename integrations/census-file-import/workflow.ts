import type { CensusImportInput, CensusImportSummary } from './types.js';
import { EMPTY_CHECKSUM, xorHex } from '../../common/checksums.js';
import { fileRun } from '../../workflows/file-steps.js';

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
  const { fileSteps, runSteps, eachFile } = fileRun();
  await eachFile(
    () => runSteps.listSourceFiles(input),
    async (file, buffered) => {
      const step = { source: input.source, file };
      const current = await fileSteps.bufferSourceFile(step);
      buffered(current);
      const imported = await fileSteps.importCensusFile({
        source: input.source,
        destination: input.destination,
        file,
        buffered: current,
        pageSize: input.options.pageSize,
        mapping: input.options.mapping,
      });
      const done = await runSteps.finishFile({
        ...step,
        buffered: current,
        sourceAfter: input.options.sourceAfter,
      });
      summary.files += 1;
      summary.bytes += file.size;
      summary.sha256[file.id] = current.sha256;
      summary.recordsRead += imported.read;
      summary.recordsWritten += imported.written;
      summary.recordsSkipped += imported.skipped;
      summary.rowsMalformed += imported.malformed;
      summary.pages += imported.pages;
      summary.checksum = xorHex(summary.checksum, imported.checksum);
      if (done.sourceDeleted) summary.sourceDeleted += 1;
    },
  );
  return { ...summary, durationMs: Date.now() - startedAt };
}
