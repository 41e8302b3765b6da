import { ApplicationFailure, defaultPayloadConverter } from '@temporalio/common';
import { describe, expect, it } from 'vitest';
import { assertMetadataSized, MetadataGuardCodec, payloadSize } from '../../common/payload-guard.js';

describe('metadata payload guard', () => {
  it('lets identifiers and counts through', () => {
    expect(() =>
      assertMetadataSized({ cursor: 'abc', read: 100 }, 16 * 1024, 'activity x result'),
    ).not.toThrow();
  });

  it('refuses a large payload with a non-retryable PayloadTooLarge failure that names its origin', () => {
    const records = Array.from({ length: 500 }, (_, i) => ({ id: i, email: `person${i}@example.com` }));
    let failure: unknown;
    try {
      assertMetadataSized(
        records,
        16 * 1024,
        'activity syncEmployeePage of workflow hrisEmployeeSync result',
      );
    } catch (error) {
      failure = error;
    }
    expect(failure).toBeInstanceOf(ApplicationFailure);
    expect(failure).toMatchObject({ type: 'PayloadTooLarge', nonRetryable: true });
    expect((failure as Error).message).toMatch(
      /^activity syncEmployeePage of workflow hrisEmployeeSync result: payload of \d+ bytes exceeds the 16384-byte/,
    );
    expect((failure as Error).message).not.toContain('person1@');
  });

  it('measures what the converter would send', () => {
    expect(payloadSize('x'.repeat(100))).toBe(102);
  });

  it('codec refuses any oversized encoded payload and passes small ones unchanged', async () => {
    const codec = new MetadataGuardCodec(1024);
    const small = defaultPayloadConverter.toPayload({ ok: true });
    await expect(codec.encode([small])).resolves.toEqual([small]);
    await expect(
      codec.encode([small, defaultPayloadConverter.toPayload('y'.repeat(2000))]),
    ).rejects.toMatchObject({ type: 'PayloadTooLarge' });
  });
});
