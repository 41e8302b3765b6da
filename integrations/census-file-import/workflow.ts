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
  const records = {
    sha256: {} as Record<string, string>,
    recordsRead: 0,
    recordsWritten: 0,
    recordsSkipped: 0,
    rowsMalformed: 0,
    pages: 0,
    checksum: EMPTY_CHECKSUM,
  };
  const { fileSteps, eachFile } = fileRun();
  const totals = await eachFile(input, async (file, buffered) => {
    const imported = await fileSteps.importCensusFile({
      source: input.source,
      destination: input.destination,
      file,
      buffered,
      pageSize: input.options.pageSize,
      mapping: input.options.mapping,
    });
    records.sha256[file.id] = buffered.sha256;
    records.recordsRead += imported.read;
    records.recordsWritten += imported.written;
    records.recordsSkipped += imported.skipped;
    records.rowsMalformed += imported.malformed;
    records.pages += imported.pages;
    records.checksum = xorHex(records.checksum, imported.checksum);
  });
  return { ...totals, ...records, durationMs: Date.now() - startedAt };
}
