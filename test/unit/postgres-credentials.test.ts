import { describe, expect, it } from 'vitest';
import { newPgCredentials, pgUrl, scramVerifier } from '../../scripts/stack/postgres-credentials.js';
import { stackPorts } from '../../scripts/stack/config.js';

describe("the local stack's PostgreSQL credentials", () => {
  it('derives the SCRAM-SHA-256 verifier PostgreSQL 15 stores for a password', () => {
    // PostgreSQL 15 stored this for `CREATE ROLE ... PASSWORD 'pencil'`; the salt is taken from it.
    const stored =
      'SCRAM-SHA-256$4096:R6bITxotTpNllMSNTUqYIA==$SX4XDBcLNkvhw2aIVXPkqrnQRsaScRWcK7OGbU7m9GQ=:WU2BtOH4KenejE5P3y43lXIza63ApgzI8er8uR4yhew=';
    expect(scramVerifier('pencil', Buffer.from('R6bITxotTpNllMSNTUqYIA==', 'base64'))).toBe(stored);
  });

  it('gives each role a password of its own and percent-encodes logins in URLs', () => {
    const credentials = newPgCredentials();
    const passwords = new Set([credentials.admin, credentials.owner, credentials.app].map((l) => l.password));
    expect(passwords.size).toBe(3);
    expect(credentials).toMatchObject({
      admin: { user: 'tavio_admin' },
      owner: { user: 'tavio_owner' },
      app: { user: 'tavio_app' },
    });
    const url = pgUrl({ ...stackPorts(), postgres: 5432 }, { user: 'a@b', password: 'p/w:%' }, 'tavio');
    expect(url).toBe('postgres://a%40b:p%2Fw%3A%25@127.0.0.1:5432/tavio');
    expect(decodeURIComponent(new URL(url).password)).toBe('p/w:%');
  });
});
