import { ApplicationFailure } from '@temporalio/common';
import { FailureType } from '../../common/failures.js';
import { MAX_TOKEN_LENGTH, tokenProblem } from '../../common/upstream-tokens.js';

/** What a source's listing page holds besides records: bounded tokens, and tombstones of deleted employees. */

/** A cursor is bounded like every upstream token (see `common/upstream-tokens.ts`). */
export const MAX_CURSOR_LENGTH = MAX_TOKEN_LENGTH;

/**
 * A cursor or a listing's `as_of` enters the run's history (activity result, workflow state) and a
 * later request's URL (gateway logs), so only a short, printable-ASCII one is accepted. The failure
 * describes it without quoting it.
 */
export function bounded(token: string | null, host: string, what: string): string | null {
  if (token === null) return null;
  const problem = tokenProblem(token);
  if (problem === undefined) return token;
  throw ApplicationFailure.nonRetryable(
    `source ${host} sent a ${what} ${problem}`,
    FailureType.UpstreamValueRefused,
  );
}

/** How a tombstone's id is found: the id an upsert of the record would carry, null when there is none. */
export type RecordIdOf = (record: Record<string, unknown>) => string | null;

/** The id of the fixed mapping: `employee_id`, a non-empty string or a number. */
export const employeeIdOf: RecordIdOf = ({ employee_id: id }) =>
  (typeof id === 'string' && id.length > 0) || typeof id === 'number' ? String(id) : null;

/**
 * A deleted employee in a listing of changes (a record with `deleted_at`): its id as `idOf` reads
 * it (the run's mapping's externalId rule), null for a tombstone without a usable id, undefined for
 * any other record.
 */
export function tombstoneOf(record: unknown, idOf: RecordIdOf = employeeIdOf): string | null | undefined {
  if (record === null || typeof record !== 'object' || Array.isArray(record)) return undefined;
  const { deleted_at: deletedAt } = record as Record<string, unknown>;
  if (deletedAt === undefined || deletedAt === null) return undefined;
  return idOf(record as Record<string, unknown>);
}
