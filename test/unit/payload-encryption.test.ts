import { randomBytes, randomUUID } from 'node:crypto';
import { defaultPayloadConverter } from '@temporalio/common';
import { describe, expect, it } from 'vitest';
import { ENCRYPTED_ENCODING, PayloadEncryptionCodec, fixedKeyRing } from '../../common/payload-encryption.js';

const key = () => ({ id: randomUUID(), key: randomBytes(32) });
const summary = { recordsRead: 150, connection: 'c0ffee00-0000-4000-8000-000000000001' };

describe('Temporal payload encryption', () => {
  it('seals a payload so that nothing of it is readable, and opens it again', async () => {
    const codec = new PayloadEncryptionCodec('acme-production', fixedKeyRing([key()]));
    const [sealed] = await codec.encode([defaultPayloadConverter.toPayload(summary)]);
    expect(new TextDecoder().decode(sealed!.metadata!.encoding)).toBe(ENCRYPTED_ENCODING);
    expect(Buffer.from(sealed!.data!).toString('latin1')).not.toMatch(/recordsRead|c0ffee00|json/);
    const [opened] = await codec.decode([sealed!]);
    expect(defaultPayloadConverter.fromPayload(opened!)).toEqual(summary);
  });

  it('refuses a payload of a key it does not hold, by a named non-retryable failure', async () => {
    const [sealed] = await new PayloadEncryptionCodec('acme-production', fixedKeyRing([key()])).encode([
      defaultPayloadConverter.toPayload(summary),
    ]);
    const stranger = new PayloadEncryptionCodec('acme-production', fixedKeyRing([key()]));
    await expect(stranger.decode([sealed!])).rejects.toMatchObject({
      type: 'PayloadKeyUnknown',
      nonRetryable: true,
    });
  });

  it('refuses a payload moved to another namespace, or altered, as tampered', async () => {
    const shared = key();
    const [sealed] = await new PayloadEncryptionCodec('acme-production', fixedKeyRing([shared])).encode([
      defaultPayloadConverter.toPayload(summary),
    ]);
    const elsewhere = new PayloadEncryptionCodec('acme-staging', fixedKeyRing([shared]));
    await expect(elsewhere.decode([sealed!])).rejects.toMatchObject({
      type: 'PayloadTampered',
      nonRetryable: true,
    });
    const flipped = Buffer.from(sealed!.data!);
    flipped[20] = flipped[20]! ^ 1;
    const home = new PayloadEncryptionCodec('acme-production', fixedKeyRing([shared]));
    await expect(home.decode([{ ...sealed!, data: flipped }])).rejects.toMatchObject({
      type: 'PayloadTampered',
    });
  });

  it('passes through payloads recorded before sealing, and seals with a fresh IV each time', async () => {
    const codec = new PayloadEncryptionCodec('acme-production', fixedKeyRing([key()]));
    const plain = defaultPayloadConverter.toPayload(summary);
    expect(await codec.decode([plain])).toEqual([plain]);
    const [a, b] = await codec.encode([plain, plain]);
    expect(Buffer.from(a!.data!).equals(Buffer.from(b!.data!))).toBe(false);
  });
});
