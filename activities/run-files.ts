import { Context } from '@temporalio/activity';
import {
  AbortMultipartUploadCommand,
  DeleteObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
} from '@aws-sdk/client-s3';
import type { BufferedFileMeta, ListedFile } from '../common/file-transfer-types.js';
import { objectKeyOf } from '../common/sealed-objects.js';
import type { ObjectPurpose, SealedStore } from '../common/sealed-objects.js';
import type { EnvironmentAws } from './aws.js';
import { withActivityEgress } from './egress.js';
import type { BufferedFile, BufferedPart, FileBufferTarget } from './file-buffer.js';
import type { DeliveredFile } from './file-delivery.js';

/**
 * What a run that moves files keeps in its environment's bucket, and where: the run's sealed
 * manifest (`tmp/<run>/manifest`: names, sizes, times of the files it took), each file's buffered
 * copy (`tmp/<run>/<file id>`) with the records of its parts beside it. Names are customer data:
 * they never leave the bucket.
 */

export interface ManifestEntry {
  id: string;
  name: string;
  size: number;
  mtime: number;
}

export interface RunFilesDeps {
  aws: EnvironmentAws;
  store: SealedStore;
  bucket: string;
  keyArn: string;
}

/**
 * One attempt's work, every request of it (S3, KMS, SFTP, HTTP) tagged with the run at the
 * gateway, ended with the attempt, and heartbeating `details`.
 */
export const attempt = async <T>(work: () => Promise<T>, details?: () => unknown): Promise<T> =>
  (await withActivityEgress(work, details)).result;

/** The run of the activity being executed: its workflow id. */
export const currentRun = () => Context.current().info.workflowExecution!.workflowId;

export function createRunFiles(deps: RunFilesDeps) {
  const manifestName = () => `${currentRun()}/manifest`;
  const partsName = (file: ListedFile) => `${currentRun()}/${file.id}.parts`;
  const deliveredName = (file: ListedFile) => `${currentRun()}/${file.id}.delivered`;
  const dropObject = (key: string) =>
    deps.aws.s3.send(new DeleteObjectCommand({ Bucket: deps.bucket, Key: key }));

  /** A buffer for `key` (under `tmp/` or `quarantine/`), its parts bound to the run and the file. */
  const targetAt = (key: string, file: ListedFile): FileBufferTarget => ({
    s3: deps.aws.s3,
    store: deps.store,
    bucket: deps.bucket,
    keyArn: deps.keyArn,
    key,
    context: { run: currentRun(), file: file.id },
  });

  /** A sealed JSON object, or undefined when there is none of that name. */
  async function readIfThere<T>(purpose: ObjectPurpose, name: string): Promise<T | undefined> {
    try {
      return JSON.parse((await deps.store.get(purpose, name)).toString('utf8')) as T;
    } catch (error) {
      if ((error as Error).name === 'NoSuchKey') return undefined;
      throw error;
    }
  }

  async function manifest(): Promise<ManifestEntry[]> {
    return JSON.parse((await deps.store.get('tmp', manifestName())).toString('utf8')) as ManifestEntry[];
  }

  return {
    dropObject,
    targetAt,

    writeManifest: (entries: ManifestEntry[]) =>
      deps.store.put('tmp', manifestName(), Buffer.from(JSON.stringify(entries))),

    /** A listed file's entry in the run's manifest. */
    async entryOf(file: ListedFile): Promise<ManifestEntry> {
      const entry = (await manifest()).find((e) => e.id === file.id);
      if (!entry) throw new Error(`file ${file.id} is not in the run's manifest`);
      return entry;
    },

    /** Where a listed file is buffered. */
    bufferTarget: (file: ListedFile) => targetAt(objectKeyOf('tmp', `${currentRun()}/${file.id}`), file),

    /** Keeps the records of a buffered file's parts beside it. */
    writeParts: (file: ListedFile, parts: BufferedPart[]) =>
      deps.store.put('tmp', partsName(file), Buffer.from(JSON.stringify(parts))),

    /** A buffered file as an activity's input names it, with the records of its parts read back. */
    async buffered(file: ListedFile, meta: BufferedFileMeta): Promise<BufferedFile> {
      const parts = JSON.parse(
        (await deps.store.get('tmp', partsName(file))).toString('utf8'),
      ) as BufferedPart[];
      return { key: meta.key, parts, size: meta.size, sha256: meta.sha256 };
    },

    /** What a delivery that changed the file (PGP) recorded before its rename, if it got that far. */
    deliveredOf: (file: ListedFile) => readIfThere<DeliveredFile>('tmp', deliveredName(file)),

    async recordDelivered(file: ListedFile, delivered: DeliveredFile) {
      await deps.store.put('tmp', deliveredName(file), Buffer.from(JSON.stringify(delivered)));
    },

    readIfThere,

    /**
     * Gives up the run's unfinished uploads under `purpose/` (`tmp/` or `quarantine/`), so that a
     * file whose buffering failed keeps no part in the bucket. An environment provisioned before
     * its role could list uploads has none listed.
     */
    async abandonUploads(purpose: 'tmp' | 'quarantine') {
      const listed = await deps.aws.s3
        .send(new ListMultipartUploadsCommand({ Bucket: deps.bucket, Prefix: `${purpose}/${currentRun()}/` }))
        .catch((error: Error) => {
          if (error.name === 'AccessDenied') return { Uploads: [] };
          throw error;
        });
      for (const upload of listed.Uploads ?? [])
        await deps.aws.s3.send(
          new AbortMultipartUploadCommand({
            Bucket: deps.bucket,
            Key: upload.Key,
            UploadId: upload.UploadId,
          }),
        );
    },

    /** Drops every object the run has under `tmp/`: its manifest, buffered files and their records. */
    async dropRunObjects() {
      const listed = await deps.aws.s3.send(
        new ListObjectsV2Command({ Bucket: deps.bucket, Prefix: `tmp/${currentRun()}/` }),
      );
      for (const object of listed.Contents ?? []) await dropObject(object.Key!);
    },

    /** Drops a buffered file and the records kept beside it. */
    async dropBuffered(key: string) {
      await dropObject(key);
      await dropObject(`${key}.parts`);
      await dropObject(`${key}.delivered`);
    },
  };
}
export type RunFiles = ReturnType<typeof createRunFiles>;
