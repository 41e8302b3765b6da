import { createHash, randomBytes } from 'node:crypto';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { readdir } from 'node:fs/promises';
import { HeadObjectCommand } from '@aws-sdk/client-s3';
import type { S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bufferFile, PART_BYTES, readBuffered, uploadedSoFar } from '../../activities/file-buffer.js';
import type { BufferedFile, BufferProgress, FileBufferTarget } from '../../activities/file-buffer.js';
import { deliverFile } from '../../activities/file-delivery.js';
import type { DeliveryProgress } from '../../activities/file-delivery.js';
import { FailureType } from '../../common/failures.js';
import { createSealedStore, objectKeyOf } from '../../common/sealed-objects.js';
import { DATAPLANE_ROLE } from '../../common/names.js';
import { clientsAs } from '../support/aws.js';
import { newEnvironment } from '../support/scenario.js';
import type { EnvScenario } from '../support/scenario.js';
import { directSftp, readAccountFile, sftpAccount } from '../support/sftp.js';
import type { SftpAccount } from '../support/sftp.js';

/**
 * Files buffered in an environment's bucket (the local S3/KMS service, as the environment's
 * data-plane role): sealed part by part under its key, resumable after the last part uploaded;
 * then delivered to the stack's SFTP server under a temporary name and renamed when verified.
 */

let s: EnvScenario;
let clients: Awaited<ReturnType<typeof clientsAs>>;
let account: SftpAccount;
let session: Awaited<ReturnType<typeof directSftp>>;

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

/** A source that hands out `file` in chunks of 64 KiB, as a network stream would. */
function sourceOf(file: Buffer) {
  return async function* () {
    for (let at = 0; at < file.length; at += 65_536) yield file.subarray(at, at + 65_536);
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
  [s, account] = await Promise.all([newEnvironment('eu', { employees: 5 }), sftpAccount()]);
  clients = await clientsAs(s.environment, DATAPLANE_ROLE);
  session = await directSftp(account);
}, 60_000);

afterAll(async () => {
  session?.close();
  await Promise.all([s?.close(), account?.close()]);
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

  it('finds what S3 holds of an unfinished upload, for a retry whose heartbeats did not arrive', async () => {
    const file = randomBytes(2 * PART_BYTES + 10);
    const target = targetFor('f-found');
    let kept: BufferProgress | undefined;
    await expect(
      bufferFile(target, sourceOf(file), (progress) => {
        kept = progress;
        if (progress.parts.length === 2) throw new Error('worker killed');
      }),
    ).rejects.toThrow('worker killed');
    const found = await uploadedSoFar(target, file.length);
    expect(found).toEqual(kept);
    const buffered = await bufferFile(target, sourceOf(file), () => undefined, found);
    expect(buffered.parts.map((p) => p.plainBytes)).toEqual([PART_BYTES, PART_BYTES, 10]);
    expect(buffered.sha256).toBe(sha256(file));
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

describe('a buffered file delivered to an SFTP server', () => {
  const names = (final: string) => ({ temporary: `.${final}.tavio-part`, final });
  /** The failure a delivery ends with. */
  const failureOf = (work: Promise<unknown>) =>
    work.then(
      () => undefined,
      (error: { type?: string; nonRetryable?: boolean; message: string }) => ({
        type: error.type,
        nonRetryable: error.nonRetryable,
        message: error.message,
      }),
    );

  async function buffered(name: string, size: number): Promise<[Buffer, FileBufferTarget, BufferedFile]> {
    const file = randomBytes(size);
    const target = targetFor(name);
    return [file, target, await bufferFile(target, sourceOf(file), () => undefined)];
  }

  it('writes it under a temporary name, then gives it its final name once size and SHA-256 match', async () => {
    const [file, target, bufferedFile] = await buffered('d-whole', PART_BYTES + 99);
    const seenDuring: string[][] = [];
    await deliverFile(target, bufferedFile, session.sftp, names('payroll.csv'), () => {
      seenDuring.push(readdirSync(account.folder).sort());
    });
    expect((await readAccountFile(account, 'payroll.csv')).equals(file)).toBe(true);
    expect((await readdir(account.folder)).sort()).toEqual(['payroll.csv']);
    // While it arrived, only the temporary name existed.
    expect(seenDuring[0]).toEqual(['.payroll.csv.tavio-part']);
  });

  it('resumes after the last part written, and delivers the file once, whole', async () => {
    const [file, target, bufferedFile] = await buffered('d-resumed', 2 * PART_BYTES + 5);
    let kept: DeliveryProgress | undefined;
    await expect(
      deliverFile(target, bufferedFile, session.sftp, names('census.csv'), (progress) => {
        kept = progress;
        throw new Error('worker killed');
      }),
    ).rejects.toThrow('worker killed');
    expect(kept).toEqual({ partsWritten: 1 });
    // What it counted as written is on the server's disk.
    expect(statSync(join(account.folder, '.census.csv.tavio-part')).size).toBeGreaterThanOrEqual(PART_BYTES);
    const written: number[] = [];
    await deliverFile(
      target,
      bufferedFile,
      session.sftp,
      names('census.csv'),
      (p) => written.push(p.partsWritten),
      kept,
    );
    expect(written).toEqual([2, 3]);
    expect((await readAccountFile(account, 'census.csv')).equals(file)).toBe(true);
    // A retry after the rename (its attempt ended before saying so) delivers nothing again.
    await deliverFile(
      target,
      bufferedFile,
      session.sftp,
      names('census.csv'),
      () => {
        throw new Error('wrote again');
      },
      { partsWritten: 3 },
    );
  });

  it('never overwrites a file of the same name, and leaves nothing of its own behind', async () => {
    const [, target, bufferedFile] = await buffered('d-exists', 1000);
    await account.put('taken.csv', "the customer's own file\n");
    expect(
      await failureOf(deliverFile(target, bufferedFile, session.sftp, names('taken.csv'), () => undefined)),
    ).toEqual({
      type: FailureType.DestinationFileExists,
      nonRetryable: true,
      message:
        'delivery to the destination server: a file of the same name is already there; nothing was written',
    });
    expect((await readAccountFile(account, 'taken.csv')).toString()).toBe("the customer's own file\n");
    expect(await readdir(account.folder)).not.toContain('.taken.csv.tavio-part');
  });

  it('delivers nothing when what it writes does not match what was read from the source', async () => {
    const [, target, bufferedFile] = await buffered('d-mismatch', 1000);
    const claimed = { ...bufferedFile, sha256: '0'.repeat(64) };
    expect(
      await failureOf(deliverFile(target, claimed, session.sftp, names('mismatch.csv'), () => undefined)),
    ).toEqual({
      type: FailureType.FileVerificationFailed,
      nonRetryable: true,
      message:
        'delivery to the destination server: the buffered copy does not match the SHA-256 taken when it was read; nothing was delivered',
    });
    const left = await readdir(account.folder);
    expect(left.filter((name) => name.includes('mismatch'))).toEqual([]);
  });
});
