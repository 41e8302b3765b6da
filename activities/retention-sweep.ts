import { setMaxListeners } from 'node:events';
import { CancelledFailure, Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import {
  AbortMultipartUploadCommand,
  DeleteObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
} from '@aws-sdk/client-s3';
import type { S3Client } from '@aws-sdk/client-s3';
import { FailureType } from '../common/failures.js';
import { countDeleted, emptySweep, SWEEP_ATTEMPTS, SWEPT_PREFIXES } from '../common/retention.js';
import type { PrefixSweep, SweptPrefix } from '../common/retention.js';

/** At most this many objects are deleted by one call; the workflow calls again while there are more. */
export const SWEEP_BATCH_OBJECTS = 5000;

/** Deletions in flight at once. */
const DELETES_AT_ONCE = 8;

/** Prefixes where runs leave multipart uploads (buffers, quarantined files). */
const UPLOAD_PREFIXES: readonly SweptPrefix[] = ['tmp', 'quarantine'];

export interface SweepBatchInput {
  prefix: SweptPrefix;
  /** Objects last written before this time are due. */
  olderThan: string;
}

/** What one call deleted, and whether due objects may remain past its batch. */
export type SweepBatch = PrefixSweep & { more: boolean };

/**
 * The retention sweep's step: deletes, under one prefix of the environment's bucket, the objects
 * last written before the cutoff, and gives up unfinished uploads begun before it. Counts only
 * what the storage service reports deleted.
 * - A retry resumes its counts from the last heartbeat; what is already gone is no longer listed.
 * - Its last attempt does not fail: it answers what it deleted, marked incomplete, so that the
 *   receipt still counts it.
 * - Every request stops when the attempt is cancelled or times out: a retry never overlaps it.
 */
export function createSweepActivities(deps: { s3: S3Client; bucket: string }) {
  const { s3, bucket } = deps;

  async function sweep(input: SweepBatchInput, progress: SweepBatch): Promise<SweepBatch> {
    const ctx = Context.current();
    const sending = { abortSignal: ctx.cancellationSignal };
    // Each request in flight listens to the attempt's signal until it ends.
    setMaxListeners(4 * DELETES_AT_ONCE, ctx.cancellationSignal);
    const cutoff = Date.parse(input.olderThan);
    const start = progress.objects;
    let token: string | undefined;
    do {
      const page = await s3.send(
        new ListObjectsV2Command({ Bucket: bucket, Prefix: `${input.prefix}/`, ContinuationToken: token }),
        sending,
      );
      const due = (page.Contents ?? []).filter(
        (object) => object.Key && object.LastModified && object.LastModified.getTime() < cutoff,
      );
      // One DeleteObject per object: S3 authorizes each against the role's per-prefix rights
      // (a multi-object delete is authorized for the bucket as a whole by the local service).
      for (let next = 0; next < due.length; next += DELETES_AT_ONCE) {
        const deletes = due.slice(next, next + DELETES_AT_ONCE).map(async (object) => {
          await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: object.Key }), sending);
          countDeleted(progress, object);
        });
        const failed = (await Promise.allSettled(deletes)).filter((done) => done.status === 'rejected');
        if (failed.length > 0) progress.complete = false;
        ctx.heartbeat(progress);
      }
      if (progress.objects - start >= SWEEP_BATCH_OBJECTS) return { ...progress, more: true };
      token = page.NextContinuationToken;
    } while (token);
    if (!UPLOAD_PREFIXES.includes(input.prefix)) return progress;
    let keyMarker: string | undefined;
    let uploadMarker: string | undefined;
    do {
      const page = await s3.send(
        new ListMultipartUploadsCommand({
          Bucket: bucket,
          Prefix: `${input.prefix}/`,
          KeyMarker: keyMarker,
          UploadIdMarker: uploadMarker,
        }),
        sending,
      );
      for (const upload of page.Uploads ?? []) {
        if (!upload.Initiated || upload.Initiated.getTime() >= cutoff) continue;
        await s3.send(
          new AbortMultipartUploadCommand({ Bucket: bucket, Key: upload.Key, UploadId: upload.UploadId }),
          sending,
        );
        progress.uploadsAborted += 1;
        ctx.heartbeat(progress);
      }
      keyMarker = page.IsTruncated ? page.NextKeyMarker : undefined;
      uploadMarker = page.IsTruncated ? page.NextUploadIdMarker : undefined;
    } while (keyMarker);
    return progress;
  }

  return {
    async sweepPrefix(input: SweepBatchInput): Promise<SweepBatch> {
      if (!Object.hasOwn(SWEPT_PREFIXES, input.prefix))
        throw ApplicationFailure.nonRetryable(
          `${String(input.prefix)} is not a prefix the retention policy governs`,
          FailureType.InvalidObjectName,
        );
      const ctx = Context.current();
      const progress: SweepBatch = {
        ...emptySweep(`${input.prefix}/`, input.olderThan),
        ...(ctx.info.heartbeatDetails as SweepBatch | undefined),
        more: false,
      };
      try {
        return await sweep(input, progress);
      } catch (error) {
        if (error instanceof CancelledFailure || ctx.info.attempt < SWEEP_ATTEMPTS) throw error;
        return { ...progress, complete: false, more: false };
      }
    },
  };
}
export type SweepActivities = ReturnType<typeof createSweepActivities>;
