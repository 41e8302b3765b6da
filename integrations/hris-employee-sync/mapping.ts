import { z } from 'zod';

/** The canonical employee every destination receives. */
export const canonicalEmployeeSchema = z.object({
  externalId: z.string().min(1),
  givenName: z.string().min(1),
  familyName: z.string().min(1),
  email: z.email(),
  birthDate: z.iso.date(),
  hireDate: z.iso.date(),
  department: z.string().min(1),
  jobTitle: z.string().min(1),
  salaryAmount: z.number().nonnegative(),
  salaryCurrency: z.string().length(3),
  nationalId: z.string().min(1),
  employmentStatus: z.enum(['active', 'on_leave', 'terminated']),
  /** A terminated employee's last day; null when the source gives none (census files have none). */
  terminationDate: z.iso.date().nullable().default(null),
});
export type CanonicalEmployee = z.infer<typeof canonicalEmployeeSchema>;

/** Canonical field -> dotted path in the source record. */
export type FieldMapping = Record<keyof CanonicalEmployee, string>;

/** The declared mapping of an HRIS employee list record. */
export const HRIS_EMPLOYEE_MAPPING: Readonly<FieldMapping> = Object.freeze({
  externalId: 'employee_id',
  givenName: 'first_name',
  familyName: 'last_name',
  email: 'work_email',
  birthDate: 'birth_date',
  hireDate: 'hire_date',
  department: 'department',
  jobTitle: 'job_title',
  salaryAmount: 'compensation.amount',
  salaryCurrency: 'compensation.currency',
  nationalId: 'national_id',
  employmentStatus: 'status',
  terminationDate: 'termination_date',
});

function pick(record: unknown, path: readonly string[]): unknown {
  let value: unknown = record;
  for (const part of path) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<string, unknown>)[part];
  }
  return value;
}

type CompiledMapping = [field: string, path: string[]][];
/**
 * Each mapping's paths, split once: a page maps hundreds of records with the same mapping. A
 * mapping is read as it was when first used: mappings are not changed in place.
 */
const compiled = new WeakMap<Readonly<FieldMapping>, CompiledMapping>();

function compile(mapping: Readonly<FieldMapping>): CompiledMapping {
  let fields = compiled.get(mapping);
  if (!fields) {
    fields = Object.entries(mapping).map(([field, path]) => [field, path.split('.')]);
    compiled.set(mapping, fields);
  }
  return fields;
}

/** Maps one source record in memory; a record that does not fit the canonical shape is skipped (null). */
export function mapEmployee(
  record: unknown,
  mapping: Readonly<FieldMapping> = HRIS_EMPLOYEE_MAPPING,
): CanonicalEmployee | null {
  return mapEmployeeChecked(record, mapping).employee;
}

/** A candidate record as a canonical employee, or null when it does not fit the shape. */
export function toCanonical(candidate: Record<string, unknown>): CanonicalEmployee | null {
  return checkCanonical(candidate).employee;
}

/** What keeps a candidate from being a canonical employee: a canonical field and zod's message. */
export interface CanonicalIssue {
  path: string;
  message: string;
}

/** A skipped record's issue, also naming the source field it was mapped from. */
export interface MappingIssue extends CanonicalIssue {
  source: string | undefined;
}

/** Why a record was skipped, as a code a metadata-level log may carry. */
export type SkipReason = 'not-an-object' | 'missing-fields' | 'invalid-fields';

/**
 * A skipped record, described: its reason, the canonical fields at fault (names from the schema,
 * never values), its source id if it has one, and the issues, whose messages may quote values.
 */
export interface SkippedRecord {
  reason: SkipReason;
  fields: string[];
  sourceId: string | undefined;
  issues: MappingIssue[];
}

/** A candidate record as a canonical employee, or the issues that keep it from being one. */
export function checkCanonical(
  candidate: Record<string, unknown>,
): { employee: CanonicalEmployee; issues?: undefined } | { employee: null; issues: CanonicalIssue[] } {
  const parsed = canonicalEmployeeSchema.safeParse(candidate);
  if (parsed.success) return { employee: parsed.data };
  return {
    employee: null,
    issues: parsed.error.issues.map((issue) => ({ path: issue.path.join('.'), message: issue.message })),
  };
}

/** Maps one source record as `mapEmployee` does, and says why when it is skipped. */
export function mapEmployeeChecked(
  record: unknown,
  mapping: Readonly<FieldMapping> = HRIS_EMPLOYEE_MAPPING,
): { employee: CanonicalEmployee; skipped?: undefined } | { employee: null; skipped: SkippedRecord } {
  const candidate: Record<string, unknown> = {};
  for (const [field, path] of compile(mapping)) candidate[field] = pick(record, path);
  const checked = checkCanonical(candidate);
  if (checked.employee) return { employee: checked.employee };
  return skippedRecord(
    record,
    candidate,
    checked.issues.map((issue) => ({
      ...issue,
      source: mapping[issue.path.split('.')[0] as keyof FieldMapping],
    })),
  );
}

/** A record that does not fit, described from the candidate it was mapped to and its issues. */
export function skippedRecord(
  record: unknown,
  candidate: Record<string, unknown>,
  issues: MappingIssue[],
): { employee: null; skipped: SkippedRecord } {
  const fields = [...new Set(issues.map((issue) => issue.path.split('.')[0]!))];
  const id = candidate.externalId;
  return {
    employee: null,
    skipped: {
      reason:
        record === null || typeof record !== 'object' || Array.isArray(record)
          ? 'not-an-object'
          : fields.some((field) => candidate[field] === undefined || candidate[field] === null)
            ? 'missing-fields'
            : 'invalid-fields',
      fields,
      sourceId: typeof id === 'string' || typeof id === 'number' ? String(id) : undefined,
      issues,
    },
  };
}
