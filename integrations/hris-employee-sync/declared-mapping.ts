import { ApplicationFailure } from '@temporalio/common';
import { z } from 'zod';
import { FailureType } from '../../common/failures.js';
import { canonicalEmployeeSchema, mapEmployeeChecked, skippedRecord } from './mapping.js';
import { stepOf, TransformFailed, TRANSFORM_TYPES, transformSchema } from './declared-transforms.js';
import type { Step } from './declared-transforms.js';
import type { CanonicalEmployee, MappingIssue, SkippedRecord } from './mapping.js';
import { employeeIdOf } from './listing.js';
import type { RecordIdOf } from './listing.js';

/**
 * Declared field mappings: a connection pair's own canonical field -> source path table, with a
 * small closed set of transforms. Names, paths and rules only, never a record's values: a mapping
 * is stored in the control database and rides in workflow and activity inputs. Shared by the
 * control API (validation when saved) and the data plane (mapping records); no I/O here.
 */

export type CanonicalField = keyof CanonicalEmployee;

/** Every canonical field, in the canonical schema's order. */
export const CANONICAL_FIELDS = Object.keys(canonicalEmployeeSchema.shape) as CanonicalField[];

/** Fields every declared mapping maps: a destination cannot take an employee without them. */
export const REQUIRED_FIELDS = [
  'externalId',
  'givenName',
  'familyName',
  'email',
  'employmentStatus',
] as const satisfies readonly CanonicalField[];
export type RequiredField = (typeof REQUIRED_FIELDS)[number];

export const MAPPING_LIMITS = {
  pathSegments: 8,
  segmentLength: 64,
  transformsPerField: 10,
  /**
   * The whole mapping as JSON. It travels in the workflow's input and in every page activity's,
   * each bounded to a few kilobytes of metadata (`payloadLimitBytes`, 16 KiB by default).
   */
  bytes: 8 * 1024,
} as const;

/** A caller's name in a problem, bounded. */
const named = (name: string) => (name.length > 64 ? `${name.slice(0, 64)}...` : name);

const SEGMENT = /^[A-Za-z0-9_-]{1,64}$/;

const pathSchema = z.string().superRefine((path, ctx) => {
  const segments = path.split('.');
  if (segments.length > MAPPING_LIMITS.pathSegments) {
    ctx.addIssue({
      code: 'custom',
      message: `a path has at most ${MAPPING_LIMITS.pathSegments} dotted segments, not ${segments.length}`,
    });
    return;
  }
  const bad = segments.findIndex((segment) => !SEGMENT.test(segment));
  if (bad >= 0)
    ctx.addIssue({
      code: 'custom',
      message: `segment ${bad + 1} ('${named(segments[bad]!)}') of path '${named(path)}' must be 1 to ${MAPPING_LIMITS.segmentLength} of A-Z a-z 0-9 _ -`,
    });
});

export const fieldRuleSchema = z
  .strictObject({
    path: pathSchema.describe('A dotted path in the source record: compensation.amount'),
    transforms: z
      .array(transformSchema)
      .max(MAPPING_LIMITS.transformsPerField, `at most ${MAPPING_LIMITS.transformsPerField} transforms`)
      .optional(),
  })
  .meta({ id: 'MappedField', description: 'Where a canonical field comes from, and how it is transformed' });
export type FieldRule = z.infer<typeof fieldRuleSchema>;

/** Canonical field -> its rule; a canonical field left out never reaches the destination. */
export type DeclaredFields = Partial<Record<CanonicalField, FieldRule>>;

/** A declared mapping as a run carries it: the version in force when the run started, and its rules. */
export interface DeclaredMapping {
  version: number;
  fields: DeclaredFields;
}

/** The shape of stored fields (as the API answers them); `checkDeclaredFields` validates input. */
export const declaredFieldsSchema = z
  .record(z.string(), fieldRuleSchema)
  .meta({ id: 'DeclaredFields', description: 'Canonical field -> { path, transforms }' });

const isObject = (value: unknown): value is Record<string, unknown> =>
  value !== null && typeof value === 'object' && !Array.isArray(value);

/** A zod issue's path the way a reader writes it: transforms[1].from. */
function pathText(path: readonly PropertyKey[]): string {
  return path.map((part) => (typeof part === 'number' ? `[${part}]` : `.${String(part)}`)).join('');
}

/** The problem with one transform, before zod: an unknown type names itself. */
function transformTypeProblem(transform: unknown): string | undefined {
  if (!isObject(transform)) return 'a transform is an object with a type';
  const type = transform.type;
  if (typeof type !== 'string') return `a transform needs a type: ${TRANSFORM_TYPES.join(', ')}`;
  if (!(TRANSFORM_TYPES as readonly string[]).includes(type))
    return `unknown transform '${named(type)}'; known: ${TRANSFORM_TYPES.join(', ')}`;
  return undefined;
}

function ruleProblems(at: string, rule: unknown): string[] {
  const problems: string[] = [];
  // Transforms of an unknown type are named as such, not as a mismatch of every known one.
  const unknownTypes = new Set<number>();
  if (isObject(rule) && Array.isArray(rule.transforms)) {
    for (const [index, transform] of rule.transforms.entries()) {
      const problem = transformTypeProblem(transform);
      if (!problem) continue;
      unknownTypes.add(index);
      problems.push(`${at}.transforms[${index}]: ${problem}`);
    }
  }
  const parsed = fieldRuleSchema.safeParse(rule);
  for (const issue of parsed.error?.issues ?? []) {
    const [member, index] = issue.path;
    if (member === 'transforms' && typeof index === 'number' && unknownTypes.has(index)) continue;
    problems.push(`${at}${pathText(issue.path)}: ${issue.message}`);
  }
  return problems;
}

export type CheckedFields =
  { fields: DeclaredFields; problems?: undefined } | { fields?: undefined; problems: string[] };

/**
 * Validates a declared mapping's fields, naming each problem by where it is:
 * "fields.hireDate.transforms[1]: unknown transform 'titlecase'", "fields.nickname: not a
 * canonical field", "fields.email: required canonical field is not mapped".
 */
export function checkDeclaredFields(input: unknown): CheckedFields {
  if (!isObject(input)) return { problems: ['fields: an object of canonical field -> { path, transforms }'] };
  const problems: string[] = [];
  // A member whose value is undefined is absent, as it is once the mapping is JSON.
  const declared = new Map(Object.entries(input).filter(([, rule]) => rule !== undefined));
  for (const [name, rule] of declared) {
    const at = `fields.${named(name)}`;
    if (!(CANONICAL_FIELDS as string[]).includes(name)) {
      problems.push(`${at}: not a canonical field; canonical fields: ${CANONICAL_FIELDS.join(', ')}`);
      continue;
    }
    problems.push(...ruleProblems(at, rule));
  }
  for (const field of REQUIRED_FIELDS) {
    if (!declared.has(field)) problems.push(`fields.${field}: required canonical field is not mapped`);
  }
  if (problems.length > 0) return { problems };
  const size = new TextEncoder().encode(JSON.stringify(input)).byteLength;
  if (size > MAPPING_LIMITS.bytes)
    return {
      problems: [
        `fields: the mapping is ${size} bytes of JSON, over the limit of ${MAPPING_LIMITS.bytes} (it travels with every run)`,
      ],
    };
  const fields: DeclaredFields = {};
  for (const field of CANONICAL_FIELDS) {
    if (declared.has(field)) fields[field] = fieldRuleSchema.parse(declared.get(field));
  }
  return { fields };
}

/** An employee a declared mapping made: the required fields, and the optional ones it maps. */
export type MappedEmployee = Pick<CanonicalEmployee, RequiredField> & Partial<CanonicalEmployee>;

export type MappedRecord =
  { employee: MappedEmployee; skipped?: undefined } | { employee: null; skipped: SkippedRecord };

export type RecordMapper = (record: unknown) => MappedRecord;

interface CompiledField {
  field: CanonicalField;
  source: string;
  path: string[];
  steps: Step[];
}

interface Compiled {
  fields: CompiledField[];
  schema: z.ZodType<MappedEmployee>;
}

function pick(record: unknown, path: readonly string[]): unknown {
  let value: unknown = record;
  for (const part of path) {
    if (!isObject(value) || !Object.hasOwn(value, part)) return undefined;
    value = value[part];
  }
  return value;
}

/**
 * Each mapping compiled once: a page maps hundreds of records with the same mapping, read as it
 * was when first used (a mapping version never changes).
 */
const compiled = new WeakMap<DeclaredMapping, Compiled>();

function compile(mapping: DeclaredMapping): Compiled {
  const cached = compiled.get(mapping);
  if (cached) return cached;
  // Checked when saved; checked again here, since it arrives through a run's input.
  const checked = checkDeclaredFields(mapping.fields);
  if (checked.problems)
    throw ApplicationFailure.nonRetryable(
      `declared mapping version ${mapping.version} is invalid: ${checked.problems.slice(0, 3).join('; ')}`,
      FailureType.InvalidMapping,
    );
  const entries = Object.entries(checked.fields) as [CanonicalField, FieldRule][];
  const mask = Object.fromEntries(entries.map(([field]) => [field, true])) as Partial<
    Record<CanonicalField, true>
  >;
  const result: Compiled = {
    fields: entries.map(([field, rule]) => ({
      field,
      source: rule.path,
      path: rule.path.split('.'),
      steps: (rule.transforms ?? []).map(stepOf),
    })),
    schema: canonicalEmployeeSchema.pick(mask) as unknown as z.ZodType<MappedEmployee>,
  };
  compiled.set(mapping, result);
  return result;
}

/** Applies a declared mapping to one record: only its fields, each transformed, then validated. */
function applyMapping(mapping: Compiled, record: unknown): MappedRecord {
  const candidate: Record<string, unknown> = {};
  const issues: MappingIssue[] = [];
  for (const { field, source, path, steps } of mapping.fields) {
    let value = pick(record, path);
    for (const [index, step] of steps.entries()) {
      if (value === undefined || value === null) break;
      try {
        value = step(value);
      } catch (error) {
        if (!(error instanceof TransformFailed)) throw error;
        issues.push({ path: field, message: `transforms[${index}] ${error.message}`, source });
        break;
      }
    }
    candidate[field] = value;
  }
  const failed = new Set(issues.map((issue) => issue.path));
  const parsed = mapping.schema.safeParse(candidate);
  if (parsed.success && issues.length === 0) return { employee: parsed.data };
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const field = String(issue.path[0] ?? '');
      if (failed.has(field)) continue;
      const source = mapping.fields.find((entry) => entry.field === field)?.source;
      issues.push({ path: issue.path.join('.'), message: issue.message, source });
    }
  }
  return skippedRecord(record, candidate, issues);
}

/**
 * The mapper of a run: its declared mapping compiled, or, without one, the fixed mapping of
 * `mapping.ts` exactly as before. A record that does not fit is skipped, never thrown; a mapping
 * that does not validate fails the activity for good (`InvalidMapping`).
 */
export function mapperFor(mapping: DeclaredMapping | undefined): RecordMapper {
  if (mapping === undefined) return (record) => mapEmployeeChecked(record);
  const compiledMapping = compile(mapping);
  return (record) => applyMapping(compiledMapping, record);
}

/**
 * How a run finds the id of a record it does not map (a tombstone of a deleted employee): its
 * declared mapping's externalId rule (path, then transforms), so that the deactivation names the
 * id the employee's upserts carried; without a declared mapping, `employee_id` as the fixed mapping
 * reads it. Null when the rule gives no non-empty string (a missing value, a transform that fails).
 */
export function externalIdOf(mapping: DeclaredMapping | undefined): RecordIdOf {
  if (mapping === undefined) return employeeIdOf;
  const rule = compile(mapping).fields.find((entry) => entry.field === 'externalId');
  if (rule === undefined) return () => null;
  return (record) => {
    let value = pick(record, rule.path);
    try {
      for (const step of rule.steps) {
        if (value === undefined || value === null) break;
        value = step(value);
      }
    } catch (error) {
      if (error instanceof TransformFailed) return null;
      throw error;
    }
    return typeof value === 'string' && value.length > 0 ? value : null;
  };
}
