import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { ApplicationFailure } from '@temporalio/common';
import type { SFTPWrapper } from 'ssh2';
import { FailureType } from '../common/failures.js';
import { bufferedBytes, PART_BYTES, readBuffered } from './file-buffer.js';
import type { BufferedFile, FileBufferTarget } from './file-buffer.js';
import { sftpCall, sftpStatusFailure, statOf } from './sftp-session.js';

/**
 * Delivers a buffered file to an SFTP server: its parts, opened one at a time from the bucket, are
 * written to a temporary name beside the final one, each acknowledged by the server before it
 * counts. Once the server holds as many bytes as the file has, and what was sent has the SHA-256
 * taken when the file was read from its source, it is renamed to its final name, which an SFTP
 * rename never overwrites. So the final name holds the whole file or nothing. The progress after
 * each part (the number of parts written, never contents) is what a retry resumes from.
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

/** The step and the problem, never a file name: names are customer data. */
const failed = (problem: string, type: FailureType) =>
  ApplicationFailure.nonRetryable(`delivery to the destination server: ${problem}`, type);

const remove = (sftp: SFTPWrapper, path: string) =>
  sftpCall<void>((done) => sftp.unlink(path, done)).catch(() => undefined);

/** SHA-256 of a file on the server, read through. */
async function sha256Of(sftp: SFTPWrapper, path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of sftp.createReadStream(path) as AsyncIterable<Buffer>) hash.update(chunk);
  return hash.digest('hex');
}

/**
 * Writes the buffered file's parts from `from` on, hashing every part (those written by an
 * earlier attempt are read again from the bucket), then checks, renames and checks again.
 */
export async function deliverFile(
  target: FileBufferTarget,
  file: BufferedFile,
  sftp: SFTPWrapper,
  names: DeliveryNames,
  onPart: (progress: DeliveryProgress) => void,
  resumed?: DeliveryProgress,
): Promise<void> {
  const [temporary, final] = await Promise.all([statOf(sftp, names.temporary), statOf(sftp, names.final)]);
  if (final) {
    // An earlier attempt renamed it and ended before saying so, or the very same file is there.
    if (!temporary && final.size === file.size && (await sha256Of(sftp, names.final)) === file.sha256) return;
    await remove(sftp, names.temporary);
    throw failed(
      'a file of the same name is already there; nothing was written',
      FailureType.DestinationFileExists,
    );
  }
  // Where to go on: the temporary name belongs to this run and file alone, and holds what the
  // server acknowledged; heartbeats may not all have arrived. Only whole parts count.
  const from = temporary
    ? Math.min(
        file.parts.length,
        Math.max(resumed?.partsWritten ?? 0, Math.floor(temporary.size / PART_BYTES)),
      )
    : 0;
  const hash = createHash('sha256');
  const out = sftp.createWriteStream(names.temporary, {
    flags: from > 0 ? 'r+' : 'w',
    start: bufferedBytes(file.parts.slice(0, from)),
    mode: 0o600,
  });
  // The stream's own failure (opening the file refused, say) comes as an event; a write after it
  // only learns that the stream was destroyed.
  let failure: unknown;
  out.on('error', (error: Error) => (failure ??= error));
  const closed = once(out, 'close');
  // Awaited once everything is written; a failure before then is thrown by the write that met it.
  closed.catch(() => undefined);
  try {
    let index = 0;
    for await (const plain of readBuffered(target, file.parts)) {
      hash.update(plain);
      if (index++ < from) continue;
      // A part counts as written once the server has acknowledged it, not when it is queued.
      await new Promise<void>((resolve, reject) =>
        out.write(plain, (error) => (error ? reject(error) : resolve())),
      );
      onPart({ partsWritten: index });
    }
    out.end();
    await closed;
  } catch (error) {
    out.destroy();
    throw sftpStatusFailure('destination', 'writing the file', failure ?? error);
  }
  const written = await statOf(sftp, names.temporary);
  const sha256 = hash.digest('hex');
  if (written?.size !== file.size || sha256 !== file.sha256) {
    await remove(sftp, names.temporary);
    throw failed(
      written?.size !== file.size
        ? `the server holds ${written?.size ?? 0} bytes of a ${file.size}-byte file; it was removed`
        : 'the buffered copy does not match the SHA-256 taken when it was read; nothing was delivered',
      FailureType.FileVerificationFailed,
    );
  }
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
  if (delivered?.size !== file.size)
    throw failed(
      'the file under its final name is not the size delivered',
      FailureType.FileVerificationFailed,
    );
}
