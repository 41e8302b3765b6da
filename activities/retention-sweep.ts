import { Context } from '@temporalio/activity';
import {
  AbortMultipartUploadCommand,
  DeleteObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
} from '@aws-sdk/client-s3';
import type { S3Client } from '@aws-sdk/client-s3';
import { countDeleted, emptySweep } from '../common/retention.js';
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
 * what the storage service reports deleted. A retry resumes its counts from the last heartbeat;
 * what is already gone is simply no longer listed.
 */
export function createSweepActivities(deps: { s3: S3Client; bucket: string }) {
  const { s3, bucket } = deps;
  return {
    async sweepPrefix(input: SweepBatchInput): Promise<SweepBatch> {
      const ctx = Context.current();
      const cutoff = Date.parse(input.olderThan);
      const progress: SweepBatch = {
        ...emptySweep(`${input.prefix}/`, input.olderThan),
        ...(ctx.info.heartbeatDetails as SweepBatch | undefined),
        more: false,
      };
      const start = progress.objects;
      let token: string | undefined;
      do {
        const page = await s3.send(
          new ListObjectsV2Command({ Bucket: bucket, Prefix: `${input.prefix}/`, ContinuationToken: token }),
        );
        const due = (page.Contents ?? []).filter(
          (object) => object.Key && object.LastModified && object.LastModified.getTime() < cutoff,
        );
        // One DeleteObject per object: S3 authorizes each against the role's per-prefix rights
        // (a multi-object delete is authorized for the bucket as a whole by the local service).
        for (let next = 0; next < due.length; next += DELETES_AT_ONCE) {
          const deletes = due.slice(next, next + DELETES_AT_ONCE).map(async (object) => {
            await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: object.Key }));
            countDeleted(progress, object);
          });
          const failed = (await Promise.allSettled(deletes)).filter((done) => done.status === 'rejected');
          if (failed.length > 0) progress.complete = false;
          ctx.heartbeat(progress);
        }
        if (progress.objects - start >= SWEEP_BATCH_OBJECTS) {
          progress.more = true;
          return progress;
        }
        token = page.NextContinuationToken;
      } while (token);
      if (UPLOAD_PREFIXES.includes(input.prefix)) {
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
          );
          for (const upload of page.Uploads ?? []) {
            if (!upload.Initiated || upload.Initiated.getTime() >= cutoff) continue;
            await s3.send(
              new AbortMultipartUploadCommand({ Bucket: bucket, Key: upload.Key, UploadId: upload.UploadId }),
            );
            progress.uploadsAborted += 1;
            ctx.heartbeat(progress);
          }
          keyMarker = page.IsTruncated ? page.NextKeyMarker : undefined;
          uploadMarker = page.IsTruncated ? page.NextUploadIdMarker : undefined;
        } while (keyMarker);
      }
      return progress;
    },
  };
}
export type SweepActivities = ReturnType<typeof createSweepActivities>;
