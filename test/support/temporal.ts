import { Connection } from '@temporalio/client';
import Long from 'long';
import type { Payload, PayloadCodec } from '@temporalio/common';
import { PayloadEncryptionCodec, isEncrypted } from '../../common/payload-encryption.js';
import { temporalConnectOptionsWithToken } from '../../common/temporal-connection.js';
import { stackTemporalConnection } from '../../scripts/stack/temporal.js';
import { createPayloadKeys } from '../../control-api/payload-keys.js';
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
  return Connection.connect(
    temporalConnectOptionsWithToken(stackTemporalConnection(inject('stack').temporalAddress), token),
  );
}

/** A connection with cluster-wide admin rights, for tests that inspect Temporal behind Tavio's back. */
export async function systemConnection(): Promise<Connection> {
  return temporalConnection(await signTemporalToken([permission(SYSTEM_NAMESPACE, 'admin')]));
}

/** The payload codec of a namespace, opened with the control plane's payload keys, as the control API would. */
export function payloadCodecOf(namespace: string): { codec: PayloadEncryptionCodec; close(): Promise<void> } {
  const stack = inject('stack');
  const database = testDatabase();
  const keys = createPayloadKeys({
    db: database.db,
    endpointFor: () => stack.awsEndpoint,
    credentials: stack.awsIdentities.controlPlane,
  });
  return {
    codec: new PayloadEncryptionCodec(namespace, keys.ringOf(namespace)),
    close: async () => {
      keys.close();
      await database.close();
    },
  };
}

export async function withPayloadCodec<T>(
  namespace: string,
  work: (codec: PayloadEncryptionCodec) => Promise<T>,
): Promise<T> {
  const { codec, close } = payloadCodecOf(namespace);
  try {
    return await work(codec);
  } finally {
    await close();
  }
}

/** Opens, in place, every sealed payload inside `value` (a history, or any part of one); answers `value`. */
export async function openPayloads<T>(value: T, codec: PayloadCodec): Promise<T> {
  if (typeof value !== 'object' || value === null || value instanceof Uint8Array || Long.isLong(value))
    return value;
  const container = value as Record<string, unknown>;
  for (const [key, item] of Object.entries(container)) {
    if (typeof item === 'object' && item !== null && isEncrypted(item as Payload)) {
      container[key] = (await codec.decode([item as Payload]))[0];
    } else {
      await openPayloads(item, codec);
    }
  }
  return value;
}
