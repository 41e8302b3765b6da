import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { EMPTY_CHECKSUM, xorHex } from '../../common/checksums.js';
import type { CensusFileProgress, CensusFileResult, CensusMapping } from './types.js';
import { DEFAULT_RESPONSE_LIMIT_BYTES } from '../../common/config.js';
import { FailureType } from '../../common/failures.js';
import type { BufferedFileMeta, ListedFile } from '../../common/file-transfer-types.js';
import type { ConnectionRef } from '../../common/connections.js';
import type { SftpCredentials } from '../../common/connections.js';
import { objectKeyOf } from '../../common/sealed-objects.js';
import { csvRows, describeHeaderProblem, headerProblem, rowMapper } from './csv.js';
import { assertSealedHost, openSftpCredentials } from '../../activities/credentials.js';
import type { CredentialOpener } from '../../activities/credentials.js';
import { bufferFile, readBuffered } from '../../activities/file-buffer.js';
import type { BufferedFile } from '../../activities/file-buffer.js';
import type { GatewayHttp } from '../../activities/http.js';
import { decryptedWith } from '../../activities/pgp.js';
import { attempt, createRunFiles, currentRun } from '../../activities/run-files.js';
import type { RunFilesDeps } from '../../activities/run-files.js';
import { checksumOf, upsertEmployees } from '../../activities/upsert-destination.js';
import { runLog } from '../../activities/run-log.js';

/**
 * The census-file-import step that loads a buffered census file: read back from the bucket part
 * by part, parsed as a stream, each row mapped to a canonical employee and upserted to the
 * destination in pages. The whole file is read once before anything is loaded: a file whose
 * header does not match the mapping, or that cannot be read as CSV to its end, is quarantined and
 * fails the run with nothing loaded.
 */

export interface CensusImportDeps extends RunFilesDeps {
  http: GatewayHttp;
  credentials: CredentialOpener;
  responseLimitBytes?: number;
}

export interface CensusFileInput {
  /** Its PGP private key, when it has one, decrypts the file. */
  source: ConnectionRef;
  destination: ConnectionRef;
  file: ListedFile;
  buffered: BufferedFileMeta;
  pageSize: number;
  mapping: CensusMapping;
}

/** Rows between heartbeats while a file is checked. */
const CHECK_HEARTBEAT_ROWS = 5_000;

const refused = (problem: string, type: FailureType) =>
  ApplicationFailure.nonRetryable(
    `census file import: ${problem}; the file was quarantined and nothing was loaded`,
    type,
  );

export function createCensusImportActivities(deps: CensusImportDeps) {
  const files = createRunFiles(deps);
  const responseLimitBytes = deps.responseLimitBytes ?? DEFAULT_RESPONSE_LIMIT_BYTES;

  /** The rows of a buffered file, decrypted first when the source connection has a PGP key. */
  async function rowsOf(input: CensusFileInput, buffered: BufferedFile, source: SftpCredentials) {
    const chunks = readBuffered(files.bufferTarget(input.file), buffered.parts);
    return csvRows(
      source.pgpPrivateKey === undefined
        ? chunks
        : await decryptedWith(source, chunks, 'census file import, decrypting the file'),
    );
  }

  /**
   * Keeps a refused file under `quarantine/<run>/<file id>`, sealed again under its own place, with
   * a sealed note beside it: its name, size, SHA-256, the reason and the records of its parts.
   */
  async function quarantine(file: ListedFile, buffered: BufferedFile, reason: string) {
    const entry = await files.entryOf(file);
    const name = `${currentRun()}/${file.id}`;
    // What an earlier attempt began to keep is given up: a retry keeps the file again.
    await files.abandonUploads('quarantine');
    const kept = await bufferFile(
      files.targetAt(objectKeyOf('quarantine', name), file),
      () => readBuffered(files.bufferTarget(file), buffered.parts),
      () => Context.current().heartbeat(),
    ).catch(async (error: unknown) => {
      await files.abandonUploads('quarantine').catch(() => undefined);
      throw error;
    });
    const note = { name: entry.name, size: kept.size, sha256: kept.sha256, reason, parts: kept.parts };
    await deps.store.put('quarantine', `${name}.about`, Buffer.from(JSON.stringify(note)));
    runLog().warn('file.quarantined', { file: file.id, bytes: kept.size });
  }

  /** Reads the whole file: its header against the mapping, and every row as CSV. */
  async function check(input: CensusFileInput, buffered: BufferedFile, source: SftpCredentials) {
    const csv = await rowsOf(input, buffered, source);
    let header: string[] | undefined;
    let rows = 0;
    for await (const cells of csv.rows) {
      if (header === undefined) {
        header = cells;
        const problem = headerProblem(cells, input.mapping);
        if (problem) {
          const words = describeHeaderProblem(problem);
          await quarantine(input.file, buffered, words);
          throw refused(words, FailureType.CsvHeaderMismatch);
        }
      } else if (++rows % CHECK_HEARTBEAT_ROWS === 0) Context.current().heartbeat();
    }
    const problem =
      header === undefined
        ? { words: 'the file has no header row', type: FailureType.CsvHeaderMismatch }
        : csv.broken
          ? {
              words: `the file cannot be read as CSV from row ${csv.broken.row} on (${csv.broken.code})`,
              type: FailureType.CsvUnreadable,
            }
          : undefined;
    if (problem) {
      await quarantine(input.file, buffered, problem.words);
      throw refused(problem.words, problem.type);
    }
  }

  return {
    /**
     * Checks a buffered census file, then maps and upserts its rows page by page. Each loaded
     * page is a heartbeat (counts, never rows); a retry skips the rows of the pages already loaded.
     */
    importCensusFile(input: CensusFileInput): Promise<CensusFileResult> {
      const ctx = Context.current();
      let progress = ctx.info.heartbeatDetails as CensusFileProgress | undefined;
      return attempt(
        async () => {
          const buffered = await files.buffered(input.file, input.buffered);
          const source = await openSftpCredentials(deps.credentials, 'source', input.source);
          // An attempt that loaded a page had checked the file.
          if (!progress) await check(input, buffered, source);
          const sealed = await deps.credentials.open(input.destination.id);
          assertSealedHost('destination', input.destination, sealed);
          const destination = {
            http: deps.http,
            baseUrl: input.destination.baseUrl,
            token: sealed.secrets.token ?? '',
            allowed: new Set([sealed.host]),
            responseLimitBytes,
          };
          let done: CensusFileProgress = progress ?? {
            rows: 0,
            pages: 0,
            read: 0,
            written: 0,
            skipped: 0,
            checksum: EMPTY_CHECKSUM,
          };
          const csv = await rowsOf(input, buffered, source);
          let mapRow: ReturnType<typeof rowMapper> | undefined;
          let row = 0;
          let page: string[][] = [];
          const load = async () => {
            const mapped = page.flatMap((cells) => {
              const employee = mapRow!(cells);
              return employee ? [JSON.stringify(employee)] : [];
            });
            const written = await upsertEmployees(destination, mapped);
            done = {
              rows: row,
              pages: done.pages + 1,
              read: done.read + page.length,
              written: done.written + written,
              skipped: done.skipped + page.length - mapped.length,
              checksum: xorHex(done.checksum, checksumOf(mapped)),
            };
            runLog().info('page.loaded', {
              file: input.file.id,
              read: page.length,
              written,
              skipped: page.length - mapped.length,
            });
            page = [];
            progress = done;
            ctx.heartbeat(done);
          };
          for await (const cells of csv.rows) {
            if (!mapRow) {
              mapRow = rowMapper(cells, input.mapping);
              continue;
            }
            row += 1;
            if (row <= done.rows) continue;
            page.push(cells);
            if (page.length === input.pageSize) await load();
          }
          if (page.length > 0) await load();
          const { malformed } = csv;
          return { ...done, read: done.read + malformed, skipped: done.skipped + malformed, malformed };
        },
        () => progress,
      );
    },
  };
}
export type CensusImportActivities = ReturnType<typeof createCensusImportActivities>;
