import { createHash } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/common';
import type { SFTPWrapper } from 'ssh2';
import { FailureType } from '../common/failures.js';
import { bufferedBytes, readBuffered } from './file-buffer.js';
import type { BufferedFile, FileBufferTarget } from './file-buffer.js';
import { readAhead } from './read-ahead.js';
import { sftpCall, sftpStatusFailure, statOf } from './sftp-session.js';
import { openSftpWriter, readSftpFile } from './sftp-streams.js';

/**
 * Delivers a file to an SFTP server: written to a temporary name beside the final one, each write
 * acknowledged by the server before it counts. Once the server holds as many bytes as were sent,
 * and what was sent is what was meant, it is renamed to its final name, which an SFTP rename never
 * overwrites. So the final name holds the whole file or nothing.
 *
 * A buffered file delivered as it is resumes after its last part written (heartbeat details: the
 * number of parts, never contents). A file changed on its way (PGP) is written again from its
 * start by a retry; what it became (size, SHA-256) is recorded before its rename, so that a retry
 * after the rename knows the file under the final name as its own.
 */

export interface DeliveryProgress {
  partsWritten: number;
}

export interface DeliveryNames {
  /** Where the file is written while it arrives. */
  temporary: string;
  /** Its name once complete. */
  final: string;
}

/** What the destination holds once a file is delivered. */
export interface DeliveredFile {
  size: number;
  sha256: string;
}

/** The step and the problem, never a file name: names are customer data. */
const failed = (problem: string, type: FailureType) =>
  ApplicationFailure.nonRetryable(`delivery to the destination server: ${problem}`, type);

const remove = (sftp: SFTPWrapper, path: string) =>
  sftpCall<void>((done) => sftp.unlink(path, done)).catch(() => undefined);

/** SHA-256 of a file on the server, read through. */
async function sha256Of(sftp: SFTPWrapper, path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of readSftpFile(sftp, path)) hash.update(chunk);
  return hash.digest('hex');
}

/**
 * What the names hold before a delivery: 'delivered' when the final name holds `expected` (an
 * earlier attempt renamed it and ended before saying so, or the very same file is there), else
 * the temporary file an earlier attempt left. Any other file under the final name is refused.
 */
async function namesBefore(sftp: SFTPWrapper, names: DeliveryNames, expected: DeliveredFile | undefined) {
  const [temporary, final] = await Promise.all([statOf(sftp, names.temporary), statOf(sftp, names.final)]);
  if (!final) return { temporary };
  if (
    !temporary &&
    expected &&
    final.size === expected.size &&
    (await sha256Of(sftp, names.final)) === expected.sha256
  )
    return 'delivered' as const;
  await remove(sftp, names.temporary);
  throw failed(
    'a file of the same name is already there; nothing was written',
    FailureType.DestinationFileExists,
  );
}

/**
 * Writes chunks to `path` from `start` on, each acknowledged by the server before `written` hears
 * of it; the next chunk is on its way while one is written.
 */
async function writeAcknowledged(
  sftp: SFTPWrapper,
  path: string,
  chunks: AsyncIterable<Uint8Array>,
  start: number,
  written: () => void,
): Promise<void> {
  try {
    const out = await openSftpWriter(sftp, path, start);
    try {
      for await (const chunk of readAhead(chunks)) {
        await out.write(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
        written();
      }
    } catch (error) {
      await out.close().catch(() => undefined);
      throw error;
    }
    // Some servers commit a file when it is closed: a refused close fails the write.
    await out.close();
  } catch (error) {
    // A failure of the chunks' own (a PGP message that does not open, say) is theirs to name.
    if (error instanceof ApplicationFailure) {
      await remove(sftp, path);
      throw error;
    }
    throw sftpStatusFailure('destination', 'writing the file', error);
  }
}

/** Checks what the temporary name holds against what was sent, then gives it its final name. */
async function renameChecked(
  sftp: SFTPWrapper,
  names: DeliveryNames,
  size: number,
  sentAsMeant: boolean,
  beforeRename?: () => Promise<void>,
): Promise<void> {
  const written = await statOf(sftp, names.temporary);
  if (written?.size !== size || !sentAsMeant) {
    await remove(sftp, names.temporary);
    throw failed(
      written?.size !== size
        ? `the server holds ${written?.size ?? 0} bytes of a ${size}-byte file; it was removed`
        : 'the buffered copy does not match the SHA-256 taken when it was read; nothing was delivered',
      FailureType.FileVerificationFailed,
    );
  }
  await beforeRename?.();
  try {
    await sftpCall<void>((done) => sftp.rename(names.temporary, names.final, done));
  } catch {
    await remove(sftp, names.temporary);
    throw failed(
      'the complete file could not take its final name; it was removed',
      FailureType.DestinationFileExists,
    );
  }
  const delivered = await statOf(sftp, names.final);
  if (delivered?.size !== size)
    throw failed(
      'the file under its final name is not the size delivered',
      FailureType.FileVerificationFailed,
    );
}

/**
 * Writes the buffered file's parts as they are, from where an earlier attempt stopped, hashing
 * every part (those written before are read again from the bucket), then checks, renames and
 * checks again.
 */
export async function deliverFile(
  target: FileBufferTarget,
  file: BufferedFile,
  sftp: SFTPWrapper,
  names: DeliveryNames,
  onPart: (progress: DeliveryProgress) => void,
  resumed?: DeliveryProgress,
): Promise<DeliveredFile> {
  const delivered = { size: file.size, sha256: file.sha256 };
  const before = await namesBefore(sftp, names, delivered);
  if (before === 'delivered') return delivered;
  // Where to go on: the parts an earlier attempt reported as acknowledged, whole. The temporary
  // name's size says nothing more: writes go several at a time, and a part's later bytes may be
  // there when earlier ones are not. Without a report, the file is written again from its start.
  const from = before.temporary ? Math.min(file.parts.length, resumed?.partsWritten ?? 0) : 0;
  const hash = createHash('sha256');
  const rest = async function* () {
    let index = 0;
    for await (const plain of readBuffered(target, file.parts)) {
      hash.update(plain);
      if (index++ >= from) yield plain;
    }
  };
  let partsWritten = from;
  await writeAcknowledged(sftp, names.temporary, rest(), bufferedBytes(file.parts.slice(0, from)), () =>
    onPart({ partsWritten: ++partsWritten }),
  );
  await renameChecked(sftp, names, file.size, hash.digest('hex') === file.sha256);
  return delivered;
}

/**
 * Writes a file changed on its way (`chunks`) from its start, then records what it became with
 * `record` and renames it. `recorded` is what an earlier attempt recorded, if it got that far.
 */
export async function deliverChanged(
  chunks: AsyncIterable<Uint8Array>,
  sftp: SFTPWrapper,
  names: DeliveryNames,
  onChunk: () => void,
  recorded: DeliveredFile | undefined,
  record: (delivered: DeliveredFile) => Promise<void>,
): Promise<DeliveredFile> {
  if ((await namesBefore(sftp, names, recorded)) === 'delivered') return recorded!;
  const hash = createHash('sha256');
  let size = 0;
  const counted = async function* () {
    for await (const chunk of chunks) {
      hash.update(chunk);
      size += chunk.length;
      yield chunk;
    }
  };
  await writeAcknowledged(sftp, names.temporary, counted(), 0, onChunk);
  const delivered = { size, sha256: hash.digest('hex') };
  await renameChecked(sftp, names, size, true, () => record(delivered));
  return delivered;
}
