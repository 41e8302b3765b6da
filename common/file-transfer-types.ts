import type { ConnectionRef } from './connections.js';

/**
 * Metadata that crosses Temporal for the sftp-file-transfer integration: opaque file ids, sizes,
 * part records and SHA-256 digests. File names and folders stay in the environment's bucket, in
 * the run's sealed manifest.
 */

export interface FileTransferOptions {
  sourceAfter: 'keep' | 'delete';
  maxFiles: number;
}

export interface FileTransferInput {
  source: ConnectionRef;
  destination: ConnectionRef;
  options: FileTransferOptions;
}

/** A file of the run's manifest, as the workflow knows it. */
export interface ListedFile {
  id: string;
  size: number;
}

/**
 * A file buffered in the bucket: its object, size and SHA-256, and how many parts it has. The
 * parts' records (sizes, ETags) are kept beside it in the bucket: a history's payloads stay the
 * same size whatever the file's.
 */
export interface BufferedFileMeta {
  key: string;
  parts: number;
  size: number;
  sha256: string;
}

/** A step on one listed file of a source server. */
export interface SourceFileStep {
  source: ConnectionRef;
  file: ListedFile;
}

export interface FileStepInput extends SourceFileStep {
  destination: ConnectionRef;
}

/** What a listing needs: the source server, and how many new files a run takes at most. */
export interface SourceListing {
  source: ConnectionRef;
  options: { maxFiles: number };
}

export interface FileTransferSummary {
  files: number;
  bytes: number;
  /** Per file id, the SHA-256 of what was delivered. */
  sha256: Record<string, string>;
  sourceDeleted: number;
  durationMs: number;
}
