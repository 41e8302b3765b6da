import { describe, expect, it } from 'vitest';
import { RETRY_AFTER_CAP_SECONDS, retryAfterSeconds } from '../../activities/retry-after.js';

const NOW = Date.parse('2026-03-01T12:00:00Z');

describe('Retry-After', () => {
  it('is capped at 60 seconds by default', () => {
    expect(RETRY_AFTER_CAP_SECONDS).toBe(60);
  });

  it.each([
    ['3', 3],
    [' 7 ', 7],
    ['60', 60],
    ['61', 60],
    ['86400', 60],
    ['999999999999999999999999', 60],
  ])('takes delay-seconds %j as %i seconds', (value, expected) => {
    expect(retryAfterSeconds(value, NOW)).toBe(expected);
  });

  it.each([
    ['an IMF-fixdate', 'Sun, 01 Mar 2026 12:00:30 GMT', 30],
    ['an RFC 850 date', 'Sunday, 01-Mar-26 12:00:45 GMT', 45],
    ['an asctime date, read as GMT', 'Sun Mar  1 12:00:20 2026', 20],
    ['a date a day away', 'Mon, 02 Mar 2026 12:00:00 GMT', 60],
    ['a date part of a second away', 'Sun, 01 Mar 2026 12:00:01 GMT', 1],
  ])('takes %s as the seconds until it, capped', (_what, value, expected) => {
    expect(retryAfterSeconds(value, NOW)).toBe(expected);
  });

  it('applies a cap it is given', () => {
    expect(retryAfterSeconds('120', NOW, 90)).toBe(90);
    expect(retryAfterSeconds('Sun, 01 Mar 2026 12:05:00 GMT', NOW, 10)).toBe(10);
  });

  it.each([
    null,
    '',
    '0',
    '-5',
    '1.5',
    '1e3',
    '0x10',
    'soon',
    'Sun, 01 Mar 2026 11:59:00 GMT',
    'Sun, 01 Mar 2026 12:00:30 GMT; drop table',
    '2026-03-01T12:00:30Z',
    'Sun, 31 Feb 2026 25:61:00 GMT',
  ])('ignores %j', (value) => {
    expect(retryAfterSeconds(value, NOW)).toBeUndefined();
  });
});
