import * as openpgp from 'openpgp';

/** An OpenPGP key pair (curve25519), armored, its private key locked with `passphrase`. */
export async function pgpKeyPair(passphrase: string) {
  const { privateKey, publicKey } = await openpgp.generateKey({
    type: 'ecc',
    curve: 'curve25519Legacy',
    userIDs: [{ name: 'Payroll exports', email: 'exports@example.com' }],
    passphrase,
    format: 'armored',
  });
  return { privateKey, publicKey, passphrase };
}

/** `content` encrypted for `publicKey`: binary, or armored text. */
export async function pgpEncrypt(content: Buffer, publicKey: string, armored = false): Promise<Buffer> {
  const message = await openpgp.createMessage({ binary: content });
  const encryptionKeys = await openpgp.readKey({ armoredKey: publicKey });
  return armored
    ? Buffer.from(await openpgp.encrypt({ message, encryptionKeys, format: 'armored' }))
    : Buffer.from(await openpgp.encrypt({ message, encryptionKeys, format: 'binary' }));
}

/** The plaintext of a binary PGP message for `privateKey`. */
export async function pgpDecrypt(message: Buffer, privateKey: string, passphrase: string): Promise<Buffer> {
  const decryptionKeys = await openpgp.decryptKey({
    privateKey: await openpgp.readPrivateKey({ armoredKey: privateKey }),
    passphrase,
  });
  const { data } = await openpgp.decrypt({
    message: await openpgp.readMessage({ binaryMessage: message }),
    decryptionKeys,
    format: 'binary',
  });
  return Buffer.from(data);
}
