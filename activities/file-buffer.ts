import { createHash } from 'node:crypto';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  ListMultipartUploadsCommand,
  ListPartsCommand,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import type { S3Client } from '@aws-sdk/client-s3';
import type { SealedStore } from '../common/sealed-objects.js';

/**
 * A file buffered in the environment's bucket: one S3 multipart object whose parts are each one
 * sealed message (AWS Encryption SDK, under the environment's key) of PART_BYTES of the file, the
 * last one shorter. Each part's encryption context names the object, the run, the file and the
 * part's number, so a part is opened only in its own place. Memory holds one part at a time
 * whatever the file's size. The progress after each part (upload id, part numbers, ETags, sizes:
 * never contents) is what a retry resumes from.
 */

/** Plaintext bytes per part (S3 takes parts of at least 5 MiB, but for the last). */
export const PART_BYTES = 8 * 1024 * 1024;

export interface BufferedPart {
  number: number;
  etag: string;
  /** Bytes of the file in this part. */
  plainBytes: number;
  /** Bytes of the sealed message that holds them. */
  sealedBytes: number;
}

/** What an attempt has buffered so far; heartbeat details carry it. */
export interface BufferProgress {
  uploadId: string;
  parts: BufferedPart[];
}

export interface BufferedFile {
  /** The object key in the bucket. */
  key: string;
  parts: BufferedPart[];
  size: number;
  /** SHA-256 of the whole file, hex. */
  sha256: string;
}

export interface FileBufferTarget {
  s3: S3Client;
  store: SealedStore;
  bucket: string;
  keyArn: string;
  /** The object key, under `tmp/`. */
  key: string;
  /** Context entries of every part: the run and the file (opaque ids, never names). */
  context: { run: string; file: string };
}

const partContext = (target: FileBufferTarget, part: number) => ({ ...target.context, part: String(part) });
export const bufferedBytes = (parts: readonly BufferedPart[]) =>
  parts.reduce((sum, p) => sum + p.plainBytes, 0);

/** The plaintext of each buffered part, in order, from the bucket: one part in memory at a time. */
export async function* readBuffered(target: FileBufferTarget, parts: readonly BufferedPart[]) {
  let offset = 0;
  for (const part of parts) {
    const object = await target.s3.send(
      new GetObjectCommand({
        Bucket: target.bucket,
        Key: target.key,
        Range: `bytes=${offset}-${offset + part.sealedBytes - 1}`,
      }),
    );
    offset += part.sealedBytes;
    yield await target.store.unseal(
      target.key,
      await object.Body!.transformToByteArray(),
      partContext(target, part.number),
    );
  }
}

/** What follows the first `bytes` bytes of a stream; those are handed to `skipped`. */
async function* skipping(stream: AsyncIterable<Buffer>, bytes: number, skipped: (chunk: Buffer) => void) {
  let left = bytes;
  for await (const chunk of stream) {
    if (left >= chunk.length) {
      skipped(chunk);
      left -= chunk.length;
      continue;
    }
    if (left > 0) skipped(chunk.subarray(0, left));
    yield chunk.subarray(left);
    left = 0;
  }
}

/** Takes exactly `bytes` bytes at a time from a stream, the last chunk shorter; an empty stream gives one empty chunk. */
async function* chunksOf(stream: AsyncIterable<Buffer>, bytes: number): AsyncGenerator<Buffer> {
  let held: Buffer[] = [];
  let size = 0;
  let gave = false;
  for await (const chunk of stream) {
    held.push(chunk);
    size += chunk.length;
    while (size >= bytes) {
      const all = Buffer.concat(held, size);
      yield all.subarray(0, bytes);
      gave = true;
      held = size > bytes ? [all.subarray(bytes)] : [];
      size -= bytes;
    }
  }
  if (size > 0 || !gave) yield Buffer.concat(held, size);
}

/**
 * Buffers a file into the bucket. `read()` opens the source; `onPart` is told the progress after
 * each part has been uploaded (a heartbeat). One part is in flight at a time. Resumed from
 * `progress`, it uploads nothing again: it reads the source from its start, hashing what is already buffered on the way (the whole file's SHA-256 cannot be
 * carried across attempts, and an upload's parts cannot be read before it completes), and goes
 * on with the next part.
 */
export async function bufferFile(
  target: FileBufferTarget,
  read: () => AsyncIterable<Buffer>,
  onPart: (progress: BufferProgress) => void,
  resumed?: BufferProgress,
): Promise<BufferedFile> {
  const hash = createHash('sha256');
  let progress: BufferProgress;
  if (resumed) {
    progress = { uploadId: resumed.uploadId, parts: [...resumed.parts] };
  } else {
    const created = await target.s3.send(
      new CreateMultipartUploadCommand({
        Bucket: target.bucket,
        Key: target.key,
        ContentType: 'application/vnd.tavio.sealed-parts',
        ServerSideEncryption: 'aws:kms',
        SSEKMSKeyId: target.keyArn,
      }),
    );
    progress = { uploadId: created.UploadId!, parts: [] };
  }
  const rest = skipping(read(), bufferedBytes(progress.parts), (skipped) => hash.update(skipped));
  for await (const plain of chunksOf(rest, PART_BYTES)) {
    // A resumed file that had ended exactly at a part's end has nothing more to add.
    if (plain.length === 0 && progress.parts.length > 0) break;
    const number = progress.parts.length + 1;
    hash.update(plain);
    const sealed = await target.store.seal(target.key, plain, partContext(target, number));
    const uploaded = await target.s3.send(
      new UploadPartCommand({
        Bucket: target.bucket,
        Key: target.key,
        UploadId: progress.uploadId,
        PartNumber: number,
        Body: sealed,
      }),
    );
    progress = {
      ...progress,
      parts: [
        ...progress.parts,
        { number, etag: uploaded.ETag!, plainBytes: plain.length, sealedBytes: sealed.length },
      ],
    };
    onPart(progress);
  }
  await target.s3.send(
    new CompleteMultipartUploadCommand({
      Bucket: target.bucket,
      Key: target.key,
      UploadId: progress.uploadId,
      MultipartUpload: { Parts: progress.parts.map((p) => ({ PartNumber: p.number, ETag: p.etag })) },
    }),
  );
  return {
    key: target.key,
    parts: progress.parts,
    size: bufferedBytes(progress.parts),
    sha256: hash.digest('hex'),
  };
}

/**
 * The progress of an earlier attempt as S3 itself holds it, for a retry whose heartbeat details
 * are missing or older (heartbeats reach Temporal at most every few seconds; a killed worker's
 * last parts may never have): the newest unfinished upload of the object and its parts from the
 * first on, each but the last of a file of `size` bytes holding PART_BYTES of it. Other unfinished
 * uploads of the object are given up.
 */
export async function uploadedSoFar(
  target: FileBufferTarget,
  size: number,
): Promise<BufferProgress | undefined> {
  const listed = await target.s3.send(
    new ListMultipartUploadsCommand({ Bucket: target.bucket, Prefix: target.key }),
  );
  const uploads = (listed.Uploads ?? [])
    .filter((u) => u.Key === target.key && u.UploadId)
    .sort((a, b) => (a.Initiated?.getTime() ?? 0) - (b.Initiated?.getTime() ?? 0));
  const newest = uploads.pop();
  for (const stale of uploads) await abandonBuffer(target, { uploadId: stale.UploadId!, parts: [] });
  if (!newest) return undefined;
  const found = await target.s3.send(
    new ListPartsCommand({ Bucket: target.bucket, Key: target.key, UploadId: newest.UploadId }),
  );
  const parts: BufferedPart[] = [];
  for (const part of (found.Parts ?? []).sort((a, b) => (a.PartNumber ?? 0) - (b.PartNumber ?? 0))) {
    if (part.PartNumber !== parts.length + 1) break;
    parts.push({
      number: part.PartNumber,
      etag: part.ETag!,
      plainBytes: Math.max(0, Math.min(PART_BYTES, size - parts.length * PART_BYTES)),
      sealedBytes: part.Size!,
    });
  }
  return { uploadId: newest.UploadId!, parts };
}

/** Of two records of progress, the one further on. */
export const furtherOf = (a: BufferProgress | undefined, b: BufferProgress | undefined) =>
  (b?.parts.length ?? -1) > (a?.parts.length ?? -1) ? b : a;

/** Gives up an upload that will not be completed, so that S3 keeps none of its parts. */
export async function abandonBuffer(target: FileBufferTarget, progress: BufferProgress): Promise<void> {
  await target.s3.send(
    new AbortMultipartUploadCommand({ Bucket: target.bucket, Key: target.key, UploadId: progress.uploadId }),
  );
}
