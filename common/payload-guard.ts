import { ApplicationFailure, defaultPayloadConverter } from '@temporalio/common';
import type { Payload, PayloadCodec } from '@temporalio/common';
import { FailureType } from './failures.js';

/**
 * Temporal carries metadata only: identifiers, options, counts, cursors. A payload larger than a
 * small bound is a sign that data is about to leak into a history, so it is refused.
 */
export const DEFAULT_PAYLOAD_LIMIT_BYTES = 16 * 1024;

export function payloadSize(value: unknown): number {
  return defaultPayloadConverter.toPayload(value).data?.byteLength ?? 0;
}

/** Throws a non-retryable `PayloadTooLarge` failure naming `what` when `value` exceeds `limit`. */
export function assertMetadataSized(value: unknown, limit: number, what: string): void {
  const size = payloadSize(value);
  if (size > limit) {
    throw ApplicationFailure.create({
      type: FailureType.PayloadTooLarge,
      nonRetryable: true,
      message: `${what}: payload of ${size} bytes exceeds the ${limit}-byte metadata bound; Temporal carries identifiers and counts only`,
    });
  }
}

/** The data converter's last line: every encoded payload, from any client or worker, is bounded. */
export class MetadataGuardCodec implements PayloadCodec {
  constructor(private readonly limit: number = DEFAULT_PAYLOAD_LIMIT_BYTES) {}

  async encode(payloads: Payload[]): Promise<Payload[]> {
    for (const payload of payloads) {
      const size = payload.data?.byteLength ?? 0;
      if (size > this.limit) {
        throw ApplicationFailure.create({
          type: FailureType.PayloadTooLarge,
          nonRetryable: true,
          message: `payload of ${size} bytes exceeds the ${this.limit}-byte metadata bound`,
        });
      }
    }
    return payloads;
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads;
  }
}

/**
 * Every client and worker: payloads are bounded first, then sealed under the environment's payload
 * key (codecs encode in this order and decode in the reverse one).
 */
export function guardedDataConverter(limit: number, encryption: PayloadCodec) {
  return { payloadCodecs: [new MetadataGuardCodec(limit), encryption] };
}
