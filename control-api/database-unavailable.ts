/** postgres.js's own codes, and PostgreSQL's: admin_shutdown, crash_shutdown, cannot_connect_now. */
const DATABASE_CODES = new Set([
  'CONNECTION_CLOSED',
  'CONNECTION_ENDED',
  'CONNECTION_DESTROYED',
  'CONNECT_TIMEOUT',
  '57P01',
  '57P02',
  '57P03',
]);
/** Socket errors: the database's only when they come from a query (another service may raise them). */
const SOCKET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT']);

/**
 * Whether an error means the control database cannot be reached now (refused, closed, shutting down
 * or starting up), as opposed to a query that failed: the API then answers 503 and recovers by
 * itself once the database is back, since its pool opens new connections on demand.
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  let inQuery = false;
  for (let cause = error, depth = 0; cause instanceof Error && depth < 5; depth++) {
    const code = (cause as { code?: unknown }).code;
    // The query builder wraps what a query failed with, and names the query.
    inQuery ||= typeof (cause as { query?: unknown }).query === 'string';
    if (typeof code === 'string') {
      // SQLSTATE class 08: connection exceptions.
      if (DATABASE_CODES.has(code) || /^08[0-9A-Z]{3}$/.test(code)) return true;
      if (inQuery && SOCKET_CODES.has(code)) return true;
    }
    cause = cause.cause;
  }
  return false;
}

/** Seconds a client waits before it asks again while the database is away. */
export const DATABASE_RETRY_AFTER_SECONDS = 5;
