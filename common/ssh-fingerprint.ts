import { createHash } from 'node:crypto';

/** OpenSSH's SHA256 fingerprint of a public key blob (the key in SSH wire encoding): `SHA256:` and unpadded base64. */
export function sshFingerprint(keyBlob: Buffer): string {
  return `SHA256:${createHash('sha256').update(keyBlob).digest('base64').replace(/=+$/, '')}`;
}

/** The form a pinned fingerprint is given in. */
export const SSH_FINGERPRINT = /^SHA256:[A-Za-z0-9+/]{43}$/;
