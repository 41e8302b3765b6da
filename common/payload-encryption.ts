import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/common';
import type { Payload, PayloadCodec } from '@temporalio/common';
import proto from '@temporalio/proto';
import { FailureType } from './failures.js';

/**
 * Temporal payloads (inputs, results, memos, heartbeats, failure details) are sealed with
 * AES-256-GCM under the environment's payload data key before they leave the process, so Temporal's
 * database holds ciphertext only. The key id travels in the payload's metadata, and the namespace
 * is authenticated with it: a payload copied into another namespace does not open there.
 */
export const ENCRYPTED_ENCODING = 'binary/encrypted';
const KEY_ID = 'encryption-key-id';
const CIPHER = 'encryption-cipher';
const ALGORITHM = 'AES256-GCM';
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** A 256-bit data key and its id. */
export interface PayloadDataKey {
  id: string;
  key: Uint8Array;
}

export interface PayloadKeyRing {
  /** The key new payloads are sealed with. */
  current(): Promise<PayloadDataKey>;
  /** The key of that id, if this process may hold it. */
  byId(id: string): Promise<PayloadDataKey | undefined>;
}

const utf8 = (value: string) => new TextEncoder().encode(value);
const text = (value: Uint8Array | null | undefined) => (value ? new TextDecoder().decode(value) : undefined);
const aad = (namespace: string, keyId: string) => utf8(`${namespace}\n${keyId}`);

export function isEncrypted(payload: Payload): boolean {
  return text(payload.metadata?.encoding) === ENCRYPTED_ENCODING;
}

export class PayloadEncryptionCodec implements PayloadCodec {
  constructor(
    private readonly namespace: string,
    private readonly keys: PayloadKeyRing,
  ) {}

  async encode(payloads: Payload[]): Promise<Payload[]> {
    if (payloads.length === 0) return payloads;
    const { id, key } = await this.keys.current();
    return payloads.map((payload) => {
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', key, iv).setAAD(aad(this.namespace, id));
      const plain = proto.temporal.api.common.v1.Payload.encode(payload).finish();
      const sealed = Buffer.concat([iv, cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
      return {
        metadata: { encoding: utf8(ENCRYPTED_ENCODING), [KEY_ID]: utf8(id), [CIPHER]: utf8(ALGORITHM) },
        data: sealed,
      };
    });
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return Promise.all(payloads.map((payload) => (isEncrypted(payload) ? this.open(payload) : payload)));
  }

  private async open(payload: Payload): Promise<Payload> {
    const id = text(payload.metadata?.[KEY_ID]) ?? '';
    const dataKey = id ? await this.keys.byId(id) : undefined;
    if (!dataKey) {
      throw ApplicationFailure.nonRetryable(
        `payload sealed under key ${id.slice(0, 64) || '(none)'}, which namespace ${this.namespace} does not hold`,
        FailureType.PayloadKeyUnknown,
      );
    }
    const sealed = Buffer.from(payload.data ?? new Uint8Array());
    try {
      const decipher = createDecipheriv('aes-256-gcm', dataKey.key, sealed.subarray(0, IV_BYTES))
        .setAAD(aad(this.namespace, id))
        .setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
      const plain = Buffer.concat([
        decipher.update(sealed.subarray(IV_BYTES, sealed.length - TAG_BYTES)),
        decipher.final(),
      ]);
      return proto.temporal.api.common.v1.Payload.decode(plain);
    } catch {
      throw ApplicationFailure.nonRetryable(
        `a payload of namespace ${this.namespace} does not authenticate under key ${id}`,
        FailureType.PayloadTampered,
      );
    }
  }
}

/** A key ring of fixed keys, the first sealing new payloads: what a worker holds. */
export function fixedKeyRing(keys: readonly PayloadDataKey[]): PayloadKeyRing {
  const [first] = keys;
  if (!first) throw new Error('a key ring needs at least one key');
  return {
    current: async () => first,
    byId: async (id) => keys.find((key) => key.id === id),
  };
}
