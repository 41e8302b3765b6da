import { ApplicationFailure } from '@temporalio/common';
import { FailureType } from '../../common/failures.js';

/** What a source's listing page holds besides records: bounded tokens, and tombstones of deleted employees. */

/** Cursors are opaque tokens of a few dozen characters; a longer one is a page of data in disguise. */
export const MAX_CURSOR_LENGTH = 512;
const PRINTABLE_ASCII = /^[\x20-\x7e]+$/;

/** What keeps an upstream token (a cursor, a mark) out of a history, in words; undefined when nothing does. */
export function tokenProblem(token: string): string | undefined {
  return token.length > MAX_CURSOR_LENGTH
    ? `of ${token.length} characters, over the limit of ${MAX_CURSOR_LENGTH}`
    : !PRINTABLE_ASCII.test(token)
      ? 'that is empty or not printable ASCII'
      : undefined;
}

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

/**
 * A deleted employee in a listing of changes (`{ employee_id, deleted_at }`): its id, null for a
 * tombstone without a usable id, undefined for any other record.
 */
export function tombstoneOf(record: unknown): string | null | undefined {
  if (record === null || typeof record !== 'object' || Array.isArray(record)) return undefined;
  const { deleted_at: deletedAt, employee_id: id } = record as Record<string, unknown>;
  if (deletedAt === undefined || deletedAt === null) return undefined;
  return (typeof id === 'string' && id.length > 0) || typeof id === 'number' ? String(id) : null;
}
