import { z } from 'zod';
import { CENSUS_FIELDS, DEFAULT_CENSUS_MAPPING } from './census-import-types.js';
import type { CensusImportSummary } from './census-import-types.js';
import type { FileTransferSummary } from './file-transfer-types.js';
import type { HrisSyncSummary } from './hris-sync-types.js';
import { SSH_FINGERPRINT } from './ssh-fingerprint.js';

/** Connection kinds Tavio knows how to talk to. */
export const CONNECTION_KINDS = ['hris-rest', 'upsert-rest', 'sftp'] as const;
export type ConnectionKind = (typeof CONNECTION_KINDS)[number];

/** The schemes of the base URL each kind takes. */
export const CONNECTION_SCHEMES: Record<ConnectionKind, readonly string[]> = {
  'hris-rest': ['http:', 'https:'],
  'upsert-rest': ['http:', 'https:'],
  sftp: ['sftp:'],
};

/**
 * An SFTP server's sign-in: a user name, a password or a private key (OpenSSH or PEM, with its
 * passphrase if it has one), and the server's host key fingerprint, pinned: a server that shows
 * another key is refused.
 */
const sftpCredentials = z
  .object({
    username: z.string().min(1).max(64),
    password: z.string().min(1).max(512).optional(),
    privateKey: z.string().min(64).max(16_384).optional(),
    passphrase: z.string().min(1).max(512).optional(),
    hostKeySha256: z.string().regex(SSH_FINGERPRINT),
    /** The folder files are taken from or delivered to, relative to where a session starts. */
    folder: z.string().min(1).max(1024).optional(),
    /** Which files of the folder a transfer takes: `*` and `?` wildcards on the file name. */
    pattern: z.string().min(1).max(256).optional(),
    /** Decrypts the files read from this server: an armored OpenPGP private key, and its passphrase if it has one. */
    pgpPrivateKey: z.string().min(64).max(65_536).optional(),
    pgpPassphrase: z.string().min(1).max(512).optional(),
    /** Encrypts the files delivered to this server: an armored OpenPGP public key. */
    pgpPublicKey: z.string().min(64).max(65_536).optional(),
  })
  .strict()
  .refine((c) => (c.password === undefined) !== (c.privateKey === undefined), {
    path: ['password'],
    message: 'exactly one of password and privateKey',
  })
  .refine((c) => c.passphrase === undefined || c.privateKey !== undefined, { path: ['passphrase'] })
  .refine((c) => c.pgpPassphrase === undefined || c.pgpPrivateKey !== undefined, {
    path: ['pgpPassphrase'],
  });

/** Credential shapes per connection kind; validated before they are sealed. */
export const credentialSchemas = {
  'hris-rest': z.object({ apiKey: z.string().min(8).max(512) }).strict(),
  'upsert-rest': z.object({ token: z.string().min(8).max(512) }).strict(),
  sftp: sftpCredentials,
} satisfies Record<ConnectionKind, z.ZodType>;
export type SftpCredentials = z.infer<typeof sftpCredentials>;

export const hrisSyncOptionsSchema = z
  .object({
    pageSize: z.number().int().min(1).max(500).default(100),
    // Up to 200 pages per activity, a few events each: 500 pages keep a history to a few dozen
    // events. Fewer makes executions that end within a second, and Temporal holds back the first
    // task of a run that follows one sooner than its minimal interval (1 s by default).
    pagesPerExecution: z.number().int().min(1).max(1000).default(500),
  })
  .strict();

const fileOptions = {
  /** What becomes of a source file once it is delivered: kept, or deleted from the source server. */
  sourceAfter: z.enum(['keep', 'delete']).default('keep'),
  /** Files one run takes at most; the next run takes the rest. */
  maxFiles: z.number().int().min(1).max(500).default(100),
};

export const fileTransferOptionsSchema = z.object(fileOptions).strict();

/** Printable column names, each column used by one field. */
const censusMappingSchema = z
  .object(
    Object.fromEntries(
      CENSUS_FIELDS.map((field) => [
        field,
        z
          .string()
          .min(1)
          .max(128)
          .regex(/^\P{Cc}+$/u),
      ]),
    ) as Record<(typeof CENSUS_FIELDS)[number], z.ZodString>,
  )
  .strict()
  .refine((mapping) => new Set(Object.values(mapping)).size === CENSUS_FIELDS.length, {
    message: 'each field needs a column of its own',
  });

export const censusImportOptionsSchema = z
  .object({
    ...fileOptions,
    /** Employees per request to the destination. */
    pageSize: z.number().int().min(1).max(500).default(100),
    /** Which column each canonical field is read from. */
    mapping: censusMappingSchema.default({ ...DEFAULT_CENSUS_MAPPING }),
  })
  .strict();

/** The integrations shipped in code: each a workflow type with the connection roles it needs. */
export const INTEGRATIONS = {
  'hris-employee-sync': {
    workflowType: 'hrisEmployeeSync',
    connections: { source: 'hris-rest', destination: 'upsert-rest' } as Record<string, ConnectionKind>,
    options: hrisSyncOptionsSchema,
  },
  'sftp-file-transfer': {
    workflowType: 'sftpFileTransfer',
    connections: { source: 'sftp', destination: 'sftp' } as Record<string, ConnectionKind>,
    options: fileTransferOptionsSchema,
  },
  'census-file-import': {
    workflowType: 'censusFileImport',
    connections: { source: 'sftp', destination: 'upsert-rest' } as Record<string, ConnectionKind>,
    options: censusImportOptionsSchema,
  },
} as const;
export type IntegrationName = keyof typeof INTEGRATIONS;

export function isIntegration(name: string): name is IntegrationName {
  return Object.hasOwn(INTEGRATIONS, name);
}

/** What a completed run of each integration returns: counts, sizes and digests, never records or names. */
export interface SummaryOf {
  'hris-employee-sync': HrisSyncSummary;
  'sftp-file-transfer': FileTransferSummary;
  'census-file-import': CensusImportSummary;
}
export type RunSummary = SummaryOf[IntegrationName];
