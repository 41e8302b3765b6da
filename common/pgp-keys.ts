import * as openpgp from 'openpgp';

/**
 * A key's Argon2 settings come with it: memory is bounded to 2^17 KiB (128 MiB; keys made by
 * openpgp and GnuPG use 2^16), so that a crafted key cannot make opening it take gigabytes.
 */
const KEY_CONFIG = { maxArgon2MemoryExponent: 17 } satisfies Partial<openpgp.Config>;

/** The OpenPGP keys an sftp connection may hold, read from their armored form (openpgp.js). */

/** A source connection's decryption key: armored, opened with its passphrase when it has one. */
export async function decryptionKeyOf(armored: string, passphrase?: string): Promise<openpgp.PrivateKey> {
  const key = await openpgp.readPrivateKey({ armoredKey: armored, config: KEY_CONFIG });
  return key.isDecrypted()
    ? key
    : openpgp.decryptKey({ privateKey: key, passphrase: passphrase ?? '', config: KEY_CONFIG });
}

/** A destination connection's encryption key: an armored public key (never a private one), able to encrypt. */
export async function encryptionKeyOf(armored: string): Promise<openpgp.Key> {
  const key = await openpgp.readKey({ armoredKey: armored, config: KEY_CONFIG });
  if (key.isPrivate()) throw new Error('a private key where a public key belongs');
  await key.getEncryptionKey();
  return key;
}

/** Whether an armored key (private with its passphrase, or public) is usable as given. */
export async function pgpKeyReadable(armored: string, kind: 'private' | 'public', passphrase?: string) {
  try {
    await (kind === 'private' ? decryptionKeyOf(armored, passphrase) : encryptionKeyOf(armored));
    return true;
  } catch {
    return false;
  }
}
