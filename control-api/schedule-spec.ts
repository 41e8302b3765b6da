import { CronExpressionParser } from 'cron-parser';
import { ScheduleOverlapPolicy } from '@temporalio/client';
import type { ScheduleSpec } from '@temporalio/client';
import { unprocessable } from './problems.js';

/**
 * When a schedule fires: a 5-field cron expression or an interval, read in an IANA time zone. What
 * Temporal would accept is checked here first, so that bad timing is refused before anything is
 * saved, with a problem naming the field.
 */
export interface ScheduleTiming {
  cron?: string;
  intervalSeconds?: number;
  timeZone: string;
}

export const OVERLAP_POLICIES = [
  'skip',
  'buffer_one',
  'buffer_all',
  'cancel_other',
  'terminate_other',
  'allow_all',
] as const;
export type OverlapPolicy = (typeof OVERLAP_POLICIES)[number];

/** The policy's name in Temporal (SKIP, BUFFER_ONE, ...). */
export const temporalOverlap = (policy: OverlapPolicy): ScheduleOverlapPolicy =>
  ScheduleOverlapPolicy[policy.toUpperCase() as keyof typeof ScheduleOverlapPolicy];

/**
 * One cron field: numbers, `*`, ranges, lists and steps, and three-letter month and day names.
 * Temporal's extensions (`@every`, a year or seconds field, comments) and other parsers' (`L`, `W`,
 * `#`, `?`, `H`) are refused: the expression means the same thing in every cron a reader knows.
 */
const CRON_ATOM = String.raw`(\*|(\d+|[A-Za-z]{3})(-(\d+|[A-Za-z]{3}))?)(\/\d+)?`;
const CRON_FIELD = new RegExp(`^${CRON_ATOM}(,${CRON_ATOM})*$`);
const MINUTES_A_DAY = 24 * 60;

/**
 * An IANA time zone's name as Temporal's time zone database spells it (`europe/paris` is
 * `Europe/Paris`; an alias such as `US/Pacific` stays as given); undefined for an unknown zone.
 */
export function timeZoneName(name: string): string | undefined {
  try {
    const resolved = new Intl.DateTimeFormat('en-US', { timeZone: name }).resolvedOptions().timeZone;
    return resolved.toLowerCase() === name.toLowerCase() ? resolved : name;
  } catch {
    return undefined;
  }
}

function parseCron(cron: string, timeZone: string, from: Date) {
  const fields = cron.trim().split(/\s+/);
  if (fields.length !== 5)
    throw unprocessable(
      'invalid-cron',
      `cron: "${cron}" has ${fields.length} fields; give 5 (minute hour day-of-month month day-of-week)`,
    );
  const bad = fields.find((field) => !CRON_FIELD.test(field));
  if (bad !== undefined)
    throw unprocessable('invalid-cron', `cron: "${cron}" is not a cron expression (field "${bad}")`);
  try {
    return CronExpressionParser.parse(fields.join(' '), { tz: timeZone, currentDate: from });
  } catch (error) {
    throw unprocessable(
      'invalid-cron',
      `cron: "${cron}" is not a cron expression: ${(error as Error).message}`,
    );
  }
}

/**
 * The times a cron expression fires after `from` (at most `limit`, none after `until`). Temporal
 * requires both the day of month and the day of week to match when both are given (classic cron
 * takes either): the parser's times are filtered to match.
 */
export function cronFires(cron: string, timeZone: string, from: Date, limit: number, until?: Date): Date[] {
  const expression = parseCron(cron, timeZone, from);
  const { dayOfMonth, dayOfWeek } = expression.fields;
  const both = !dayOfMonth.isWildcard && !dayOfWeek.isWildcard;
  const days = new Set<number>(dayOfMonth.values as number[]);
  const weekdays = new Set<number>((dayOfWeek.values as number[]).map((day) => day % 7));
  const fires: Date[] = [];
  // A bound on the parser's steps, for an expression whose days rarely meet (the 31st on Mondays).
  for (let step = 0; fires.length < limit && step < limit * 50 && expression.hasNext(); step += 1) {
    const next = expression.next();
    const at = next.toDate();
    if (until && at > until) break;
    if (both && !(days.has(next.getDate()) && weekdays.has(next.getDay()))) continue;
    fires.push(at);
  }
  return fires;
}

/**
 * The shortest gap between two times of a cron expression, from its minutes and hours: between two
 * times of a day, and from a day's last time to the next day's first (as if every day fired, which
 * errs on the side of refusing).
 */
function shortestGapSeconds(cron: string, timeZone: string, from: Date): number {
  const { minute, hour } = parseCron(cron, timeZone, from).fields;
  const times = (hour.values as number[])
    .flatMap((h) => (minute.values as number[]).map((m) => h * 60 + m))
    .sort((a, b) => a - b);
  let gap = MINUTES_A_DAY - times[times.length - 1]! + times[0]!;
  for (let i = 1; i < times.length; i += 1) gap = Math.min(gap, times[i]! - times[i - 1]!);
  return gap * 60;
}

/** A schedule's timing, checked, its time zone spelled as Temporal knows it; a 422 problem names the bad field. */
export function checkTiming(
  given: ScheduleTiming,
  minIntervalSeconds: number,
  now = new Date(),
): ScheduleTiming {
  const timeZone = timeZoneName(given.timeZone);
  if (timeZone === undefined)
    throw unprocessable('unknown-time-zone', `timeZone: ${given.timeZone} is not an IANA time zone`);
  const timing = { ...given, timeZone };
  const hasCron = timing.cron !== undefined;
  const hasInterval = timing.intervalSeconds !== undefined;
  if (hasCron === hasInterval)
    throw unprocessable(
      'invalid-schedule-timing',
      hasCron ? 'give either cron or intervalSeconds, not both' : 'give cron or intervalSeconds',
    );
  if (hasInterval) {
    if (timing.intervalSeconds! < minIntervalSeconds)
      throw unprocessable(
        'interval-below-minimum',
        `intervalSeconds: ${timing.intervalSeconds} is below the minimum of ${minIntervalSeconds}`,
      );
    return timing;
  }
  if (cronFires(timing.cron!, timing.timeZone, now, 1).length === 0)
    throw unprocessable('invalid-cron', `cron: "${timing.cron}" never fires`);
  const gap = shortestGapSeconds(timing.cron!, timing.timeZone, now);
  if (gap < minIntervalSeconds)
    throw unprocessable(
      'interval-below-minimum',
      `cron: "${timing.cron}" fires ${gap} s apart; the minimum is ${minIntervalSeconds} s`,
    );
  return timing;
}

/** How many times a schedule fires in [start, end], counting up to `limit + 1`. */
export function firesBetween(timing: ScheduleTiming, start: Date, end: Date, limit: number): number {
  if (timing.intervalSeconds !== undefined) {
    // Temporal's intervals fire at whole multiples of the interval since the epoch.
    const every = timing.intervalSeconds * 1000;
    return Math.floor(end.getTime() / every) - Math.ceil(start.getTime() / every) + 1;
  }
  // The parser starts after `currentDate`: a millisecond earlier keeps a fire at `start` itself.
  return cronFires(timing.cron!, timing.timeZone, new Date(start.getTime() - 1), limit + 1, end).length;
}

/** Temporal's spec of a checked timing. */
export function temporalSpec(timing: ScheduleTiming): ScheduleSpec {
  return timing.cron !== undefined
    ? { cronExpressions: [timing.cron.trim().split(/\s+/).join(' ')], timezone: timing.timeZone }
    : { intervals: [{ every: timing.intervalSeconds! * 1000 }], timezone: timing.timeZone };
}
