import { Connection } from '@temporalio/client';
import { inject } from 'vitest';
import { createSigningKeys } from '../../control-api/temporal-auth/signing-keys.js';
import { SYSTEM_NAMESPACE, permission } from '../../control-api/temporal-auth/tokens.js';
import { testDatabase } from './database.js';

/** Signs a token with the control plane's current key, as the control API would. */
export async function signTemporalToken(
  permissions: string[],
  ttlMs = 600_000,
  subject = 'test',
): Promise<string> {
  const database = testDatabase();
  try {
    const keys = createSigningKeys(database.db, { publishLeadMs: 0, maxTokenTtlMs: 3_600_000 });
    return (await keys.sign(subject, permissions, ttlMs)).token;
  } finally {
    await database.close();
  }
}

/** A Temporal connection whose calls carry `token`, or no token at all. */
export function temporalConnection(token?: string): Promise<Connection> {
  return Connection.connect({
    address: inject('stack').temporalAddress,
    ...(token ? { metadata: { authorization: `Bearer ${token}` } } : {}),
  });
}

/** A connection with cluster-wide admin rights, for tests that inspect Temporal behind Tavio's back. */
export async function systemConnection(): Promise<Connection> {
  return temporalConnection(await signTemporalToken([permission(SYSTEM_NAMESPACE, 'admin')]));
}
