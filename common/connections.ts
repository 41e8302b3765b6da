import { z } from 'zod';
import { SSH_FINGERPRINT } from './ssh-fingerprint.js';

/** A connection as a run names it: its id and base URL (metadata; its secrets stay sealed). */
export interface ConnectionRef {
  id: string;
  baseUrl: string;
}

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
