import { z } from 'zod';
import type { ConnectionKind } from '../../common/connections.js';

/** Options of every integration that takes files from an SFTP source. */
export const sourceFileOptions = {
  /** What becomes of a source file once it is delivered: kept, or deleted from the source server. */
  sourceAfter: z.enum(['keep', 'delete']).default('keep'),
  /** Files one run takes at most; the next run takes the rest. */
  maxFiles: z.number().int().min(1).max(500).default(100),
};

export const fileTransferOptionsSchema = z.object(sourceFileOptions).strict();

/** sftp-file-transfer in the catalog: files from one SFTP server to another, through the bucket. */
export const sftpFileTransferDefinition = {
  workflowType: 'sftpFileTransfer',
  connections: { source: 'sftp', destination: 'sftp' } as Record<string, ConnectionKind>,
  options: fileTransferOptionsSchema,
};
