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
 * One cron field's part: a number or `*`, a range, a step; numbers of at most two digits, and
 * three-letter month and day names. Temporal's extensions (`@every`, a year or seconds field,
 * comments) and other parsers' (`L`, `W`, `#`, `?`, `H`) are refused: the expression means the same
 * thing in every cron a reader knows.
 */
const CRON_ATOM = /^(?:(\*)|(\d{1,2}|[A-Za-z]{3})(?:-(\d{1,2}|[A-Za-z]{3}))?)(?:\/(\d{1,3}))?$/;
const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
const WEEKDAYS = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];

interface CronField {
  name: string;
  min: number;
  max: number;
  /** Names of its values, the first one meaning `min`. */
  names?: string[];
}

/** Each field's values, as Temporal takes them (a weekday is 0-7, Sunday both 0 and 7). */
const CRON_FIELDS: CronField[] = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day-of-month', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12, names: MONTHS },
  { name: 'day-of-week', min: 0, max: 7, names: WEEKDAYS },
];

/** Why one part of a field is refused, or undefined: values within the field's range, steps 1..its size. */
function cronPartProblem(part: string, field: CronField): string | undefined {
  const match = CRON_ATOM.exec(part);
  if (!match) return `${field.name} field "${part}" is not a number, range or step`;
  const [, star, from, to, step] = match;
  const valueOf = (text: string): number | undefined => {
    if (/^\d+$/.test(text)) return Number(text);
    const index = field.names?.indexOf(text.toUpperCase()) ?? -1;
    return index < 0 ? undefined : index + field.min;
  };
  const range = `${field.min}-${field.max}`;
  if (star === undefined) {
    for (const text of [from!, ...(to === undefined ? [] : [to])]) {
      const value = valueOf(text);
      if (value === undefined) return `${field.name} field "${part}": ${text} is not a ${field.name} name`;
      if (value < field.min || value > field.max)
        return `${field.name} field "${part}": ${text} is outside ${range}`;
    }
    if (to !== undefined && valueOf(to)! < valueOf(from!)!)
      return `${field.name} field "${part}": the range ends before it starts`;
  }
  const size = field.max - field.min + 1;
  if (step !== undefined && (Number(step) < 1 || Number(step) > size))
    return `${field.name} field "${part}": the step ${step} is outside 1-${size}`;
  return undefined;
}

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
  for (const [index, field] of fields.entries()) {
    for (const part of field.split(',')) {
      const problem = cronPartProblem(part, CRON_FIELDS[index]!);
      if (problem !== undefined)
        throw unprocessable('invalid-cron', `cron: "${cron}" is not a cron expression: ${problem}`);
    }
  }
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
  // A bound on the parser's steps, for an expression whose days rarely meet (the 31st on Mondays);
  // whether they ever meet is `meetsEver`'s question.
  const steps = Math.max(limit * 50, MAX_PARSER_STEPS);
  for (let step = 0; fires.length < limit && step < steps && expression.hasNext(); step += 1) {
    const next = expression.next();
    const at = next.toDate();
    if (until && at > until) break;
    if (both && !(days.has(next.getDate()) && weekdays.has(next.getDay()))) continue;
    fires.push(at);
  }
  return fires;
}

/** The parser's steps a search for times may take at least. */
const MAX_PARSER_STEPS = 10_000;
/** Weekdays repeat on the same dates every 28 years (within a century): a calendar longer than that. */
const DAYS_SEARCHED = 29 * 366;

/**
 * Whether a cron expression's days ever come: some date of its months and days of month falls on
 * one of its weekdays (both must match when both are given), looked for day by day over a cycle of
 * the calendar. Times within a day always come.
 */
function meetsEver(cron: string, timeZone: string, from: Date): boolean {
  const { dayOfMonth, dayOfWeek, month } = parseCron(cron, timeZone, from).fields;
  const days = new Set<number>(dayOfMonth.values as number[]);
  const weekdays = new Set<number>((dayOfWeek.values as number[]).map((day) => day % 7));
  const months = new Set<number>(month.values as number[]);
  const start = Date.UTC(from.getUTCFullYear(), from.getUTCMonth(), from.getUTCDate());
  for (let day = 0; day < DAYS_SEARCHED; day += 1) {
    const date = new Date(start + day * 86_400_000);
    if (!months.has(date.getUTCMonth() + 1)) continue;
    // A field left as `*` holds every value: requiring both is right whichever is given.
    if (days.has(date.getUTCDate()) && weekdays.has(date.getUTCDay())) return true;
  }
  return false;
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
  if (!meetsEver(timing.cron!, timing.timeZone, now))
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
