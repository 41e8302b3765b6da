import type { SFTPWrapper } from 'ssh2';
import { sftpCall } from './sftp-session.js';

/**
 * Reading and writing files over SFTP with several requests outstanding. One request at a time
 * (what ssh2's streams do) waits a round trip per 64 KiB; with IN_FLIGHT of them the link stays
 * busy. Memory holds IN_FLIGHT chunks, whatever the file's size.
 */

const CHUNK = 64 * 1024;
const IN_FLIGHT = 16;

/** Reads up to CHUNK bytes at `at`, asking again after a short answer; fewer only at the end of the file. */
async function chunkAt(sftp: SFTPWrapper, handle: Buffer, at: number): Promise<Buffer> {
  const buffer = Buffer.allocUnsafe(CHUNK);
  let got = 0;
  while (got < CHUNK) {
    const read = await sftpCall<number>((done) =>
      sftp.read(handle, buffer, got, CHUNK - got, at + got, (error, bytes) => done(error, bytes)),
    );
    if (read === 0) break;
    got += read;
  }
  return buffer.subarray(0, got);
}

/** A file's bytes, in order, from `start` to its end. */
export async function* readSftpFile(sftp: SFTPWrapper, path: string, start = 0): AsyncGenerator<Buffer> {
  const handle = await sftpCall<Buffer>((done) => sftp.open(path, 'r', done));
  const queue: Promise<Buffer>[] = [];
  let next = start;
  const fill = () => {
    while (queue.length < IN_FLIGHT) {
      const reading = chunkAt(sftp, handle, next);
      // Awaited in turn, unless the file ends or the reader stops first.
      reading.catch(() => undefined);
      queue.push(reading);
      next += CHUNK;
    }
  };
  try {
    fill();
    for (;;) {
      const chunk = await queue.shift()!;
      if (chunk.length > 0) yield chunk;
      // A short chunk is the end of the file: the reads queued after it find nothing.
      if (chunk.length < CHUNK) return;
      fill();
    }
  } finally {
    await Promise.allSettled(queue);
    await sftpCall<void>((done) => sftp.close(handle, done)).catch(() => undefined);
  }
}

/** A file open for writing from `start` on: created (or emptied) when `start` is 0. */
export async function openSftpWriter(sftp: SFTPWrapper, path: string, start: number) {
  const handle = await sftpCall<Buffer>((done) =>
    sftp.open(path, start > 0 ? 'r+' : 'w', { mode: 0o600 }, done),
  );
  let at = start;
  return {
    /** Writes `data` next; resolves once the server has acknowledged every byte of it. */
    async write(data: Buffer): Promise<void> {
      const base = at;
      at += data.length;
      let next = 0;
      let failed = false;
      const lane = async () => {
        // After a refused write, no lane writes on: nothing lands beyond a hole.
        while (next < data.length && !failed) {
          const offset = next;
          next += CHUNK;
          await sftpCall<void>((done) =>
            sftp.write(handle, data, offset, Math.min(CHUNK, data.length - offset), base + offset, done),
          ).catch((error: unknown) => {
            failed = true;
            throw error;
          });
        }
      };
      const lanes = await Promise.allSettled(Array.from({ length: IN_FLIGHT }, lane));
      const refused = lanes.find((l) => l.status === 'rejected');
      if (refused) throw refused.reason;
    },
    close: () => sftpCall<void>((done) => sftp.close(handle, done)),
  };
}
