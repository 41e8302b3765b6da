/**
 * A run log's detail level, and how it travels from the run's start to its activities. Workflow
 * code imports this module: it imports nothing.
 */

/** The activity header that carries the run's detail level from the workflow to its activities. */
export const LOG_DETAIL_HEADER = 'tavio-log-detail';
/** The memo field in which a run is started with its detail level. */
export const LOG_DETAIL_MEMO = 'logDetail';

/** `metadata`: counts, codes, hashed ids. `records`: also what a record held that made it fail. */
export const LOG_DETAILS = ['metadata', 'records'] as const;
export type LogDetail = (typeof LOG_DETAILS)[number];

/** Anything but exactly `records` is `metadata`: the detail is never raised by accident. */
export function logDetailOf(value: unknown): LogDetail {
  return value === 'records' ? 'records' : 'metadata';
}
