import { z } from 'zod';

/**
 * The transforms a declared field mapping may apply to a source value, a small closed set: their
 * schema, and each as a function. A transform that cannot apply names itself, never the value.
 */

export const DATE_FORMATS = [
  'YYYY-MM-DD',
  'MM/DD/YYYY',
  'DD/MM/YYYY',
  'DD.MM.YYYY',
  'epoch-ms',
  'iso-datetime',
] as const;
export type DateFormat = (typeof DATE_FORMATS)[number];

export const TRANSFORM_TYPES = ['trim', 'lowercase', 'uppercase', 'date', 'map'] as const;

/** A value map's bounds: entries, and characters of each key and value. */
export const VALUE_MAP_LIMITS = { entries: 200, length: 100 } as const;

const mapText = z.string().max(VALUE_MAP_LIMITS.length, `at most ${VALUE_MAP_LIMITS.length} characters`);

export const transformSchema = z
  .discriminatedUnion('type', [
    z.strictObject({ type: z.literal('trim') }),
    z.strictObject({ type: z.literal('lowercase') }),
    z.strictObject({ type: z.literal('uppercase') }),
    z.strictObject({
      type: z.literal('date'),
      from: z.enum(DATE_FORMATS, `the date format must be one of ${DATE_FORMATS.join(', ')}`),
    }),
    z.strictObject({
      type: z.literal('map'),
      values: z
        .record(mapText, mapText)
        .refine(
          (values) => Object.keys(values).length <= VALUE_MAP_LIMITS.entries,
          `a value map has at most ${VALUE_MAP_LIMITS.entries} entries`,
        ),
      default: mapText.optional(),
    }),
  ])
  .meta({
    id: 'MappingTransform',
    description:
      'Applied in order to the value at the path: trim, lowercase, uppercase; date (from a format to an ISO date); map (a value map, with an optional default for values not in it)',
  });
export type Transform = z.infer<typeof transformSchema>;

/** A transform that cannot apply to a value: the message names the rule, never the value. */
export class TransformFailed extends Error {}

function pad(n: number, width: number): string {
  return String(n).padStart(width, '0');
}

/** A calendar date as an ISO date, when it exists. */
function calendarDate(year: number, month: number, day: number): string | undefined {
  if (year < 1 || year > 9999 || month < 1 || month > 12 || day < 1) return undefined;
  const date = new Date(Date.UTC(2000, month - 1, day));
  date.setUTCFullYear(year);
  if (date.getUTCMonth() !== month - 1 || date.getUTCDate() !== day) return undefined;
  return `${pad(year, 4)}-${pad(month, 2)}-${pad(day, 2)}`;
}

const DAY_FIRST_SLASH = /^(\d{1,2})\/(\d{1,2})\/(\d{4})$/;
const DAY_FIRST_DOT = /^(\d{1,2})\.(\d{1,2})\.(\d{4})$/;
const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
/** A date and time; the date is taken as written, whatever its offset. */
const ISO_DATETIME = /^(\d{4})-(\d{2})-(\d{2})[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}(:?\d{2})?)?$/i;

function parseDate(value: unknown, from: DateFormat): string | undefined {
  if (from === 'epoch-ms') {
    const ms =
      typeof value === 'number'
        ? value
        : typeof value === 'string' && /^-?\d{1,16}$/.test(value)
          ? Number(value)
          : NaN;
    if (!Number.isSafeInteger(ms))
      throw new TransformFailed('date: epoch-ms expects an integer of milliseconds');
    const date = new Date(ms);
    return Number.isNaN(date.getTime())
      ? undefined
      : calendarDate(date.getUTCFullYear(), date.getUTCMonth() + 1, date.getUTCDate());
  }
  if (typeof value !== 'string')
    throw new TransformFailed(`date: ${from} expects a string, not ${typeName(value)}`);
  const text = value.trim();
  const numbers = (match: RegExpExecArray | null, order: [number, number, number]) =>
    match
      ? calendarDate(Number(match[order[0]]), Number(match[order[1]]), Number(match[order[2]]))
      : undefined;
  switch (from) {
    case 'YYYY-MM-DD':
      return numbers(ISO_DATE.exec(text), [1, 2, 3]);
    case 'MM/DD/YYYY':
      return numbers(DAY_FIRST_SLASH.exec(text), [3, 1, 2]);
    case 'DD/MM/YYYY':
      return numbers(DAY_FIRST_SLASH.exec(text), [3, 2, 1]);
    case 'DD.MM.YYYY':
      return numbers(DAY_FIRST_DOT.exec(text), [3, 2, 1]);
    case 'iso-datetime':
      return numbers(ISO_DATETIME.exec(text), [1, 2, 3]);
  }
}

function typeName(value: unknown): string {
  return Array.isArray(value) ? 'an array' : value === null ? 'null' : `a ${typeof value}`;
}

function text(value: unknown, type: string): string {
  if (typeof value !== 'string')
    throw new TransformFailed(`${type}: expects a string, not ${typeName(value)}`);
  return value;
}

export type Step = (value: unknown) => unknown;

/** A transform as a function; a missing value (absent or null) passes through every transform. */
export function stepOf(transform: Transform): Step {
  switch (transform.type) {
    case 'trim':
      return (value) => text(value, 'trim').trim();
    case 'lowercase':
      return (value) => text(value, 'lowercase').toLowerCase();
    case 'uppercase':
      return (value) => text(value, 'uppercase').toUpperCase();
    case 'date':
      return (value) => {
        const date = parseDate(value, transform.from);
        if (date === undefined)
          throw new TransformFailed(`date: not a valid date in the form ${transform.from}`);
        return date;
      };
    case 'map': {
      const values = new Map(Object.entries(transform.values));
      return (value) => {
        if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean')
          throw new TransformFailed(`map: expects a string, number or boolean, not ${typeName(value)}`);
        const mapped = values.get(String(value)) ?? transform.default;
        if (mapped === undefined)
          throw new TransformFailed('map: the value is not in the value map, which has no default');
        return mapped;
      };
    }
  }
}
