import { AsyncLocalStorage } from 'node:async_hooks';
import { createHash } from 'node:crypto';
import type { LogDetail, LogFields, LogLevel } from '../common/run-log.js';

/**
 * The run log of the running activity, for activity code: events with counts, codes and hashed
 * record ids at every detail level; what a record held only when the run asked for `records`.
 * The log is sealed in the environment's own bucket, never sent to Temporal.
 */
export interface RunLog {
  /** The run's detail level. */
  readonly detail: LogDetail;
  debug(event: string, fields?: LogFields): void;
  info(event: string, fields?: LogFields): void;
  warn(event: string, fields?: LogFields): void;
  error(event: string, fields?: LogFields): void;
  /** Writes only when the run's detail is `records`. */
  records(event: string, fields?: LogFields, level?: LogLevel): void;
  /** A record id as a metadata-level log may name it: the same id gives the same hash within the environment. */
  hashId(id: string): string;
}

/** Whose records are hashed: ids hash differently in each environment. */
export interface RunLogScope {
  organization: string;
  environment: string;
}

/** The first 16 hex digits of SHA-256 of `<organization>/<environment>/<id>`. */
export function hashRecordId(scope: RunLogScope, id: string): string {
  return createHash('sha256')
    .update(`${scope.organization}/${scope.environment}/${id}`)
    .digest('hex')
    .slice(0, 16);
}

/** A run log that writes each record it keeps to `write`. */
export function createRunLog(options: {
  detail: LogDetail;
  scope: RunLogScope;
  write: (level: LogLevel, event: string, fields: LogFields) => void;
}): RunLog {
  const { detail, scope, write } = options;
  return {
    detail,
    debug: (event, fields = {}) => write('debug', event, fields),
    info: (event, fields = {}) => write('info', event, fields),
    warn: (event, fields = {}) => write('warn', event, fields),
    error: (event, fields = {}) => write('error', event, fields),
    records: (event, fields = {}, level = 'info') => {
      if (detail === 'records') write(level, event, fields);
    },
    hashId: (id) => hashRecordId(scope, id),
  };
}

/** Outside an activity (unit tests, a worker without run logs): records go nowhere. */
const NO_RUN_LOG = createRunLog({
  detail: 'metadata',
  scope: { organization: '', environment: '' },
  write: () => undefined,
});

const current = new AsyncLocalStorage<RunLog>();

/** The current activity's run log, or one that keeps nothing. */
export function runLog(): RunLog {
  return current.getStore() ?? NO_RUN_LOG;
}

/** Runs `work` (an activity) with `log` as its run log. */
export function withRunLog<T>(log: RunLog, work: () => Promise<T>): Promise<T> {
  return current.run(log, work);
}
