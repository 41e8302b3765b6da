import { createHash } from 'node:crypto';
import { posix } from 'node:path';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { Stats } from 'ssh2';
import { FailureType } from '../common/failures.js';
import type {
  BufferedFileMeta,
  FileStepInput,
  ListedFile,
  SourceFileStep,
  SourceListing,
} from '../common/file-transfer-types.js';
import type { ConnectionRef } from '../common/connections.js';
import type { SftpCredentials } from '../common/connections.js';
import type { SealedStore } from '../common/sealed-objects.js';
import type { EnvironmentAws } from './aws.js';
import { openSftpCredentials } from './credentials.js';
import type { CredentialOpener } from './credentials.js';
import { attemptSignal } from './egress.js';
import { bufferFile, furtherOf, readBuffered, uploadedSoFar } from './file-buffer.js';
import type { BufferProgress } from './file-buffer.js';
import { deliverChanged, deliverFile } from './file-delivery.js';
import type { DeliveredFile, DeliveryProgress } from './file-delivery.js';
import { decryptedWith, encryptedFor } from './pgp.js';
import { attempt, createRunFiles, currentRun } from './run-files.js';
import type { ManifestEntry } from './run-files.js';
import { openSftp, sftpCall, sftpStatusFailure, statOf } from './sftp-session.js';
import type { GatewayRoute, SftpSession } from './sftp-session.js';
import { readSftpFile } from './sftp-streams.js';
import { runLog } from './run-log.js';

/**
 * Activities of sftp-file-transfer. File names and folders are customer data: they live in the
 * run's sealed manifest (`tmp/<run>/manifest`) and the source connection's sealed ledger of files
 * already transferred (`files/ledger-<connection>`), never in an activity's input, result,
 * heartbeat or failure.
 */

export interface FileTransferDeps {
  aws: EnvironmentAws;
  credentials: CredentialOpener;
  store: SealedStore;
  bucket: string;
  keyArn: string;
  /** The region's gateway, as this environment's proxy user. */
  gateway: () => Omit<GatewayRoute, 'run'>;
}

/** `*` and `?` wildcards over a whole file name; every other character stands for itself. */
export function patternOf(pattern: string): RegExp {
  const body = [...pattern]
    .map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[.+^${}()|[\]\\]/g, '\\$&')))
    .join('');
  return new RegExp(`^${body}$`, 's');
}

/** A file as the ledger remembers it: its name, size and modification time, hashed. */
const fingerprintOf = (entry: Pick<ManifestEntry, 'name' | 'size' | 'mtime'>) =>
  createHash('sha256')
    .update(JSON.stringify([entry.name, entry.size, entry.mtime]))
    .digest('hex');

const sourceChanged = () =>
  ApplicationFailure.nonRetryable(
    'reading from the source server: the file changed or went away since it was listed',
    FailureType.SourceFileChanged,
  );

export function createFileTransferActivities(deps: FileTransferDeps) {
  const files = createRunFiles(deps);
  /** A short tag of the run in temporary names on the destination: another run's leftovers are never resumed. */
  const runTag = () => createHash('sha256').update(currentRun()).digest('hex').slice(0, 12);
  /** Each integration keeps its own ledger of a source: one does not hide another's files. */
  const ledgerName = (connectionId: string) =>
    `ledger-${connectionId}-${Context.current().info.workflowType}`;

  const credentialsOf = (role: string, ref: ConnectionRef) =>
    openSftpCredentials(deps.credentials, role, ref);

  /** A session on a connection's server, with the folder and pattern sealed with it, open while `work` runs. */
  async function withSession<T>(
    role: string,
    ref: ConnectionRef,
    work: (
      session: SftpSession & { folder: string; pattern: string; credentials: SftpCredentials },
    ) => Promise<T>,
  ): Promise<T> {
    const credentials = await credentialsOf(role, ref);
    const opened = await openSftp(
      { ...deps.gateway(), run: currentRun() },
      ref.baseUrl,
      credentials,
      attemptSignal(),
    );
    try {
      return await work({
        ...opened,
        credentials,
        folder: credentials.folder ?? '.',
        pattern: credentials.pattern ?? '*',
      });
    } finally {
      opened.close();
    }
  }

  const ledger = async (connectionId: string): Promise<string[]> =>
    (await files.readIfThere<string[]>('files', ledgerName(connectionId))) ?? [];

  /** A delivered file in the run's log: its id and size, never its name. */
  const logDelivered = (file: string, delivered: DeliveredFile): DeliveredFile => {
    runLog().info('file.delivered', { file, bytes: delivered.size });
    return delivered;
  };

  return {
    /**
     * Lists the source folder's files that match the connection's pattern and that the ledger
     * does not know, up to `maxFiles`, by name; seals their names into the manifest.
     */
    listSourceFiles: (input: SourceListing): Promise<ListedFile[]> =>
      attempt(() =>
        withSession('source', input.source, async (source) => {
          const entries = await sftpCall<{ filename: string; attrs: Stats }[]>((done) =>
            source.sftp.readdir(source.folder, done),
          ).catch((error: unknown) => {
            throw sftpStatusFailure('source', 'listing the folder', error);
          });
          const known = new Set(await ledger(input.source.id));
          const matching = patternOf(source.pattern);
          const listed = entries
            .filter((e) => e.attrs.isFile() && matching.test(e.filename))
            .map((e) => ({ name: e.filename, size: e.attrs.size, mtime: e.attrs.mtime }))
            .filter((e) => !known.has(fingerprintOf(e)))
            .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
            .slice(0, input.options.maxFiles)
            .map((e, index) => ({ id: `f${index + 1}`, ...e }));
          await files.writeManifest(listed);
          runLog().info('files.listed', {
            files: listed.length,
            bytes: listed.reduce((sum, e) => sum + e.size, 0),
          });
          return listed.map(({ id, size }) => ({ id, size }));
        }),
      ),

    /** Streams a listed file into the bucket, sealed part by part; a retry resumes after its last part. */
    bufferSourceFile(input: SourceFileStep): Promise<BufferedFileMeta> {
      const ctx = Context.current();
      let progress: BufferProgress | undefined;
      return attempt(
        async () => {
          const entry = await files.entryOf(input.file);
          const target = files.bufferTarget(input.file);
          // A retry goes on from what S3 holds when its heartbeats did not all arrive; an
          // environment provisioned before its role could list uploads starts over.
          if (ctx.info.attempt > 1)
            progress = furtherOf(
              ctx.info.heartbeatDetails as BufferProgress | undefined,
              await uploadedSoFar(target, entry.size).catch(() => undefined),
            );
          return withSession('source', input.source, async (source) => {
            const path = posix.join(source.folder, entry.name);
            const now = await statOf(source.sftp, path);
            if (now?.size !== entry.size || now.mtime !== entry.mtime) throw sourceChanged();
            const buffered = await bufferFile(
              target,
              () => readSftpFile(source.sftp, path),
              (next) => {
                progress = next;
                ctx.heartbeat(next);
              },
              progress,
            );
            if (buffered.size !== entry.size) {
              await files.dropObject(buffered.key);
              throw sourceChanged();
            }
            await files.writeParts(input.file, buffered.parts);
            runLog().info('file.buffered', {
              file: input.file.id,
              bytes: buffered.size,
              parts: buffered.parts.length,
            });
            const { key, size, sha256 } = buffered;
            return { key, parts: buffered.parts.length, size, sha256 };
          });
        },
        () => progress,
      );
    },

    /**
     * Delivers a buffered file to the destination folder under its name, whole or not at all:
     * decrypted with the source connection's PGP key and encrypted for the destination's, when
     * they have them. Returns what the destination holds.
     */
    deliverBufferedFile(input: FileStepInput & { buffered: BufferedFileMeta }): Promise<DeliveredFile> {
      const ctx = Context.current();
      const resumed = ctx.info.heartbeatDetails as DeliveryProgress | undefined;
      let progress = resumed;
      return attempt(
        async () => {
          const entry = await files.entryOf(input.file);
          const file = await files.buffered(input.file, input.buffered);
          const source = await credentialsOf('source', input.source);
          return withSession('destination', input.destination, async (destination) => {
            const target = files.bufferTarget(input.file);
            const names = {
              temporary: posix.join(destination.folder, `.${entry.name}.tavio-${runTag()}-${input.file.id}`),
              final: posix.join(destination.folder, entry.name),
            };
            const decrypting = source.pgpPrivateKey !== undefined;
            const encrypting = destination.credentials.pgpPublicKey !== undefined;
            if (!decrypting && !encrypting)
              return logDelivered(
                input.file.id,
                await deliverFile(
                  target,
                  file,
                  destination.sftp,
                  names,
                  (next) => {
                    progress = next;
                    ctx.heartbeat(next);
                  },
                  resumed,
                ),
              );
            let chunks: AsyncIterable<Uint8Array> = readBuffered(target, file.parts);
            if (decrypting)
              chunks = await decryptedWith(source, chunks, 'decrypting the file from the source server');
            if (encrypting)
              chunks = await encryptedFor(
                destination.credentials,
                chunks,
                'encrypting the file for the destination server',
              );
            return logDelivered(
              input.file.id,
              await deliverChanged(
                chunks,
                destination.sftp,
                names,
                () => ctx.heartbeat(),
                await files.deliveredOf(input.file),
                (delivered) => files.recordDelivered(input.file, delivered),
              ),
            );
          });
        },
        () => progress,
      );
    },

    /**
     * After a delivery: drops the buffered copy, records the file in the source's ledger so that
     * no later run transfers it again, and deletes the source file when asked to.
     */
    finishFile: (
      input: SourceFileStep & { buffered: BufferedFileMeta; sourceAfter: 'keep' | 'delete' },
    ): Promise<{ sourceDeleted: boolean }> =>
      attempt(async () => {
        const entry = await files.entryOf(input.file);
        await files.dropBuffered(input.buffered.key);
        const known = await ledger(input.source.id);
        const fingerprint = fingerprintOf(entry);
        if (!known.includes(fingerprint))
          await deps.store.put(
            'files',
            ledgerName(input.source.id),
            Buffer.from(JSON.stringify([...known, fingerprint])),
          );
        if (input.sourceAfter === 'keep') return { sourceDeleted: false };
        return withSession('source', input.source, async (source) => {
          const path = posix.join(source.folder, entry.name);
          // Already gone: a retry of this step after it deleted it.
          if (!(await statOf(source.sftp, path))) return { sourceDeleted: false };
          await sftpCall<void>((done) => source.sftp.unlink(path, done)).catch((error: unknown) => {
            throw sftpStatusFailure('source', 'deleting the delivered file', error);
          });
          return { sourceDeleted: true };
        });
      }),

    /**
     * Drops what a run left in the bucket: its manifest, buffered files and their records (all it
     * has under `tmp/`), and its unfinished uploads, a quarantined file's included.
     */
    discardRunFiles: (input: { bufferedKeys: string[] }): Promise<void> =>
      attempt(async () => {
        for (const key of input.bufferedKeys) await files.dropBuffered(key);
        await files.abandonUploads('tmp');
        await files.abandonUploads('quarantine');
        await files.dropRunObjects();
      }),
  };
}
export type FileTransferActivities = ReturnType<typeof createFileTransferActivities>;
