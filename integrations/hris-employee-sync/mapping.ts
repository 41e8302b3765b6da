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
  const candidate: Record<string, unknown> = {};
  for (const [field, path] of compile(mapping)) candidate[field] = pick(record, path);
  return toCanonical(candidate);
}

/** A candidate record as a canonical employee, or null when it does not fit the shape. */
export function toCanonical(candidate: Record<string, unknown>): CanonicalEmployee | null {
  const parsed = canonicalEmployeeSchema.safeParse(candidate);
  return parsed.success ? parsed.data : null;
}
