import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { HeadObjectCommand } from '@aws-sdk/client-s3';
import type { S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bufferFile, PART_BYTES, readBuffered } from '../../activities/file-buffer.js';
import type { BufferProgress, FileBufferTarget } from '../../activities/file-buffer.js';
import { createSealedStore, objectKeyOf } from '../../common/sealed-objects.js';
import { DATAPLANE_ROLE } from '../../common/names.js';
import { clientsAs } from '../support/aws.js';
import { newEnvironment } from '../support/scenario.js';
import type { EnvScenario } from '../support/scenario.js';

/**
 * Files buffered in an environment's bucket (the local S3/KMS service, as the environment's
 * data-plane role): sealed part by part under its key, resumable after the last part uploaded.
 */

let s: EnvScenario;
let clients: Awaited<ReturnType<typeof clientsAs>>;

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

/** A source that hands out `file` in chunks of 64 KiB, as a network stream would. */
function sourceOf(file: Buffer) {
  return async () => {
    const chunks: Buffer[] = [];
    for (let at = 0; at < file.length; at += 65_536) chunks.push(file.subarray(at, at + 65_536));
    return Readable.from(chunks);
  };
}

function targetFor(file: string): FileBufferTarget {
  return {
    s3: clients.s3,
    store: createSealedStore({
      s3: clients.s3,
      kms: clients.kms,
      bucket: s.environment.bucket,
      scope: { organization: s.org, environment: s.env, region: 'eu', keyArn: s.environment.keyArn! },
    }),
    bucket: s.environment.bucket,
    keyArn: s.environment.keyArn!,
    key: objectKeyOf('tmp', `run-1/${file}`),
    context: { run: 'run-1', file },
  };
}

async function readAll(target: FileBufferTarget, parts: Parameters<typeof readBuffered>[1]) {
  const plain: Uint8Array[] = [];
  for await (const part of readBuffered(target, parts)) plain.push(part);
  return Buffer.concat(plain);
}

beforeAll(async () => {
  s = await newEnvironment('eu', { employees: 5 });
  clients = await clientsAs(s.environment, DATAPLANE_ROLE);
}, 60_000);

afterAll(async () => {
  await s?.close();
});

describe('a file buffered in the bucket', () => {
  it('is sealed part by part, one multipart object under the key, and reads back whole', async () => {
    const file = randomBytes(2 * PART_BYTES + 123_456);
    const target = targetFor('f-whole');
    const seen: number[] = [];
    const buffered = await bufferFile(target, sourceOf(file), (p) => seen.push(p.parts.length));
    expect(buffered.parts.map((p) => p.plainBytes)).toEqual([PART_BYTES, PART_BYTES, 123_456]);
    expect(seen).toEqual([1, 2, 3]);
    expect(buffered.size).toBe(file.length);
    expect(buffered.sha256).toBe(sha256(file));
    const head = await (clients.s3 as S3Client).send(
      new HeadObjectCommand({ Bucket: target.bucket, Key: target.key }),
    );
    expect(head.ServerSideEncryption).toBe('aws:kms');
    expect(head.ContentLength).toBe(buffered.parts.reduce((sum, p) => sum + p.sealedBytes, 0));
    expect((await readAll(target, buffered.parts)).equals(file)).toBe(true);
  });

  it('resumes after the last part uploaded, uploading nothing twice, with the SHA-256 of the whole file', async () => {
    const file = randomBytes(2 * PART_BYTES + 1);
    const target = targetFor('f-resumed');
    let kept: BufferProgress | undefined;
    // The first attempt dies after its first part.
    await expect(
      bufferFile(target, sourceOf(file), (progress) => {
        kept = progress;
        throw new Error('worker killed');
      }),
    ).rejects.toThrow('worker killed');
    expect(kept?.parts.length).toBe(1);
    const uploaded: number[] = [];
    const buffered = await bufferFile(
      target,
      sourceOf(file),
      (progress) => uploaded.push(progress.parts.at(-1)!.number),
      kept,
    );
    expect(uploaded).toEqual([2, 3]);
    expect(buffered.parts.map((p) => p.number)).toEqual([1, 2, 3]);
    expect(buffered.parts[0]).toEqual(kept!.parts[0]);
    expect(buffered.sha256).toBe(sha256(file));
    expect((await readAll(target, buffered.parts)).equals(file)).toBe(true);
  });

  it("opens a part only in its own place: another part's number or another file is refused undecrypted", async () => {
    const file = randomBytes(PART_BYTES + 10);
    const target = targetFor('f-bound');
    const buffered = await bufferFile(target, sourceOf(file), () => undefined);
    const [first, second] = buffered.parts;
    // The first part's sealed bytes, read as if they were the second part.
    const swapped = [{ ...first!, number: second!.number }];
    const moved = { ...target, context: { ...target.context, file: 'f-other' } };
    for (const [place, parts] of [
      [target, swapped],
      [moved, buffered.parts],
    ] as const) {
      await expect(readAll(place, parts)).rejects.toMatchObject({ name: 'SealedContextMismatch' });
    }
  });

  it('buffers an empty file as one part', async () => {
    const target = targetFor('f-empty');
    const buffered = await bufferFile(target, sourceOf(Buffer.alloc(0)), () => undefined);
    expect(buffered.parts.map((p) => p.plainBytes)).toEqual([0]);
    expect(buffered.sha256).toBe(sha256(Buffer.alloc(0)));
    expect((await readAll(target, buffered.parts)).length).toBe(0);
  });
});
