import { describe, expect, it } from 'vitest';
import {
  countDeleted,
  DEFAULT_RETENTION,
  keepForMs,
  emptySweep,
  RETENTION_BOUNDS,
  retentionSettingsSchema,
  sweepReceiptSchema,
} from '../../common/retention.js';
import { lifecycleRulesOf } from '../../control-api/retention/apply.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

describe('retention policy', () => {
  it('has defaults inside their own bounds, with buffers kept a day at most', () => {
    expect(retentionSettingsSchema.parse(DEFAULT_RETENTION)).toEqual(DEFAULT_RETENTION);
    expect(DEFAULT_RETENTION.tmpBufferHours).toBeLessThanOrEqual(24);
    expect(DEFAULT_RETENTION.runLogDetail).toBe('metadata');
  });

  it.each(Object.entries(RETENTION_BOUNDS))('bounds %s on both sides, to whole units', (field, bounds) => {
    const at = (value: unknown) =>
      retentionSettingsSchema.safeParse({ ...DEFAULT_RETENTION, [field]: value });
    expect(at(bounds.min).success).toBe(true);
    expect(at(bounds.max).success).toBe(true);
    for (const refused of [bounds.min - 1, bounds.max + 1, bounds.min + 0.5, String(bounds.max), null]) {
      const answer = at(refused);
      expect(answer.success, `${field}=${String(refused)}`).toBe(false);
      expect(answer.error!.issues[0]!.path).toEqual([field]);
    }
  });

  it('refuses unknown fields', () => {
    expect(retentionSettingsSchema.safeParse({ ...DEFAULT_RETENTION, keepForever: true }).success).toBe(
      false,
    );
  });

  it('turns durations into milliseconds per swept prefix, and never sweeps credentials', () => {
    const keep = keepForMs({ ...DEFAULT_RETENTION, tmpBufferHours: 6, quarantineDays: 0, runLogDays: 14 });
    expect(keep).toEqual({ tmp: 6 * HOUR, files: 365 * DAY, quarantine: 0, logs: 14 * DAY });
    expect(Object.keys(keep)).not.toContain('credentials');
  });

  it('writes lifecycle rules per prefix, rounded up to whole days and never under one', () => {
    const rules = lifecycleRulesOf({
      ...DEFAULT_RETENTION,
      tmpBufferHours: 25,
      quarantineDays: 0,
      runLogDays: 7,
    });
    const days = Object.fromEntries(rules.map((rule) => [rule.Filter!.Prefix, rule.Expiration!.Days]));
    expect(days).toEqual({ 'tmp/': 2, 'files/': 365, 'quarantine/': 1, 'logs/': 7 });
    for (const rule of rules) expect(rule.AbortIncompleteMultipartUpload).toEqual({ DaysAfterInitiation: 1 });
  });

  it('counts a deleted object into its prefix: objects, bytes, oldest and newest time', () => {
    const tally = { objects: 0, bytes: 0, oldest: null, newest: null };
    countDeleted(tally, { LastModified: new Date('2026-01-02T00:00:00Z'), Size: 10 });
    countDeleted(tally, { LastModified: new Date('2026-01-01T00:00:00Z'), Size: 5 });
    countDeleted(tally, { LastModified: new Date('2026-01-03T00:00:00Z') });
    expect(tally).toEqual({
      objects: 3,
      bytes: 15,
      oldest: '2026-01-01T00:00:00.000Z',
      newest: '2026-01-03T00:00:00.000Z',
    });
  });

  it("accepts a sweep's result as a receipt only when it holds counts, swept prefixes and times", () => {
    const at = '2026-11-30T00:00:00.000Z';
    const valid = { policyVersion: 2, startedAt: at, finishedAt: at, prefixes: [emptySweep('logs/', at)] };
    expect(sweepReceiptSchema.safeParse(valid).success).toBe(true);
    for (const [what, bad] of [
      ['credentials/', { ...valid, prefixes: [emptySweep('credentials/' as 'logs/', at)] }],
      ['a name', { ...valid, prefixes: [{ ...emptySweep('logs/', at), names: ['payroll.csv'] }] }],
      ['a negative count', { ...valid, prefixes: [{ ...emptySweep('logs/', at), objects: -1 }] }],
      ['a time that is not one', { ...valid, startedAt: 'Jane Doe' }],
      ['an extra field', { ...valid, note: 'x' }],
    ] as const)
      expect(sweepReceiptSchema.safeParse(bad).success, what).toBe(false);
  });
});
