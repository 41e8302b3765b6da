import { describe, expect, it } from 'vitest';
import {
  checkTiming,
  cronFires,
  firesBetween,
  temporalOverlap,
  temporalSpec,
} from '../../control-api/schedule-spec.js';
import { ProblemError } from '../../control-api/problems.js';

const NOW = new Date('2026-03-02T12:00:00Z');

/** The problem `work` throws: its kind and detail. */
function problemOf(work: () => unknown): { kind: string; status: number; detail: string } {
  try {
    work();
  } catch (error) {
    if (error instanceof ProblemError)
      return { kind: error.kind, status: error.status, detail: error.message };
    throw error;
  }
  throw new Error('no problem thrown');
}

describe('schedule timing', () => {
  it('accepts a 5-field cron expression or an interval, and spells the time zone as Temporal knows it', () => {
    expect(checkTiming({ cron: '0 2 * * MON-FRI', timeZone: 'europe/paris' }, 300, NOW)).toEqual({
      cron: '0 2 * * MON-FRI',
      timeZone: 'Europe/Paris',
    });
    expect(checkTiming({ intervalSeconds: 300, timeZone: 'UTC' }, 300, NOW)).toEqual({
      intervalSeconds: 300,
      timeZone: 'UTC',
    });
    expect(checkTiming({ cron: '*/5 * * * *', timeZone: 'US/Pacific' }, 300, NOW).timeZone).toBe(
      'US/Pacific',
    );
  });

  it.each([
    ['0 2 * *', /has 4 fields/],
    ['0 0 2 * * *', /has 6 fields/],
    ['@daily', /has 1 fields/],
    ['0 2 L * *', /field "L"/],
    ['0 2 * * 5#3', /field "5#3"/],
    ['61 * * * *', /not a cron expression/],
    ['0 25 * * *', /not a cron expression/],
    ['0 0 31 2 *', /not a cron expression/],
    ['0 0 30 2 FRI', /never fires/],
    // Numbers are bounded, within their field's range; steps within the field's size.
    ['0 0-23/99999999999999999999 * * *', /hour field "0-23\/99999999999999999999"/],
    ['*/61 * * * *', /minute field "\*\/61": the step 61 is outside 1-60/],
    ['0 0 1-31/40 * *', /day-of-month field "1-31\/40": the step 40 is outside 1-31/],
    ['0 0 * 13 *', /month field "13": 13 is outside 1-12/],
    ['0 0 0 * *', /day-of-month field "0": 0 is outside 1-31/],
    ['0 0 * * 8', /day-of-week field "8": 8 is outside 0-7/],
    ['0 5-2 * * *', /hour field "5-2": the range ends before it starts/],
    ['0 0 * FOO *', /month field "FOO": FOO is not a month name/],
    ['*/0 * * * *', /the step 0 is outside 1-60/],
    ['007 * * * *', /minute field "007"/],
  ])('refuses the cron expression %s with a problem naming cron', (cron, detail) => {
    const problem = problemOf(() => checkTiming({ cron, timeZone: 'UTC' }, 300, NOW));
    expect(problem).toMatchObject({ kind: 'invalid-cron', status: 422 });
    expect(problem.detail).toMatch(/^cron: /);
    expect(problem.detail).toMatch(detail);
  });

  it('accepts bounded fields, names, and days that meet only rarely', () => {
    for (const cron of [
      '0 0 29 2 1',
      '0 0 * * 7',
      '0 0-23/23 * * *',
      '0 0 1 JAN-DEC/12 SUN',
      '30 */2 31 * 1',
    ])
      expect(checkTiming({ cron, timeZone: 'UTC' }, 300, NOW).cron).toBe(cron);
    // February 29th on a Monday: next in 2044, as Temporal would fire it.
    expect(cronFires('0 0 29 2 1', 'UTC', NOW, 1).map((at) => at.toISOString())).toEqual([
      '2044-02-29T00:00:00.000Z',
    ]);
  });

  it('refuses an unknown time zone, naming timeZone', () => {
    for (const timeZone of ['Mars/Olympus_Mons', '+01:00', '']) {
      expect(problemOf(() => checkTiming({ intervalSeconds: 600, timeZone }, 300, NOW))).toMatchObject({
        kind: 'unknown-time-zone',
        status: 422,
        detail: expect.stringMatching(/^timeZone: /) as unknown,
      });
    }
  });

  it('refuses an interval below the minimum, and a cron expression whose times come closer', () => {
    expect(problemOf(() => checkTiming({ intervalSeconds: 299, timeZone: 'UTC' }, 300, NOW))).toMatchObject({
      kind: 'interval-below-minimum',
      detail: 'intervalSeconds: 299 is below the minimum of 300',
    });
    expect(problemOf(() => checkTiming({ intervalSeconds: 0, timeZone: 'UTC' }, 300, NOW)).kind).toBe(
      'interval-below-minimum',
    );
    const close = problemOf(() => checkTiming({ cron: '*/2 * * * *', timeZone: 'UTC' }, 300, NOW));
    expect(close).toMatchObject({ kind: 'interval-below-minimum' });
    expect(close.detail).toBe('cron: "*/2 * * * *" fires 120 s apart; the minimum is 300 s');
    // Two times close together once a day are refused too.
    expect(problemOf(() => checkTiming({ cron: '0,1 3 * * *', timeZone: 'UTC' }, 300, NOW)).kind).toBe(
      'interval-below-minimum',
    );
    expect(() => checkTiming({ cron: '0,5 3 * * *', timeZone: 'UTC' }, 300, NOW)).not.toThrow();
  });

  it('refuses both cron and interval, and neither', () => {
    expect(
      problemOf(() => checkTiming({ cron: '0 2 * * *', intervalSeconds: 600, timeZone: 'UTC' }, 300, NOW)),
    ).toMatchObject({
      kind: 'invalid-schedule-timing',
      detail: 'give either cron or intervalSeconds, not both',
    });
    expect(problemOf(() => checkTiming({ timeZone: 'UTC' }, 300, NOW))).toMatchObject({
      kind: 'invalid-schedule-timing',
      detail: 'give cron or intervalSeconds',
    });
  });

  it('fires as Temporal does: day of month and day of week must both match when both are given', () => {
    const fires = cronFires('0 9 13 * FRI', 'UTC', NOW, 3);
    expect(fires.map((at) => at.toISOString())).toEqual([
      '2026-03-13T09:00:00.000Z',
      '2026-11-13T09:00:00.000Z',
      '2027-08-13T09:00:00.000Z',
    ]);
    // In its time zone: 2 am in Paris is 1 am UTC in winter.
    expect(cronFires('0 2 * * *', 'Europe/Paris', NOW, 1)[0]!.toISOString()).toBe('2026-03-03T01:00:00.000Z');
  });

  it('counts the times of a range, both ends included, as a backfill runs them', () => {
    const start = new Date('2026-03-01T00:00:00Z');
    const end = new Date('2026-03-04T00:00:00Z');
    expect(firesBetween({ cron: '0 3 * * *', timeZone: 'UTC' }, start, end, 500)).toBe(3);
    expect(firesBetween({ cron: '0 0 * * *', timeZone: 'UTC' }, start, end, 500)).toBe(4);
    expect(firesBetween({ intervalSeconds: 3600, timeZone: 'UTC' }, start, end, 500)).toBe(73);
    // Counting stops past the limit.
    expect(firesBetween({ cron: '*/5 * * * *', timeZone: 'UTC' }, start, end, 10)).toBe(11);
  });

  it('gives Temporal its spec and overlap policy', () => {
    expect(temporalSpec({ cron: ' 0  2 * * * ', timeZone: 'Europe/Paris' })).toEqual({
      cronExpressions: ['0 2 * * *'],
      timezone: 'Europe/Paris',
    });
    expect(temporalSpec({ intervalSeconds: 300, timeZone: 'UTC' })).toEqual({
      intervals: [{ every: 300_000 }],
      timezone: 'UTC',
    });
    expect(temporalOverlap('buffer_one')).toBe('BUFFER_ONE');
    expect(temporalOverlap('terminate_other')).toBe('TERMINATE_OTHER');
  });

  it('checks a yearly cron expression quickly', () => {
    const started = Date.now();
    checkTiming({ cron: '0 0 1 1 *', timeZone: 'UTC' }, 300, NOW);
    expect(Date.now() - started).toBeLessThan(2_000);
  });
});
