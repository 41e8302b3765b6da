/**
 * Whether an error means the control database cannot be reached now (refused, closed, shutting down
 * or starting up), as opposed to a query that failed: the API then answers 503 and recovers by
 * itself once the database is back, since its pool opens new connections on demand.
 */
const UNAVAILABLE_CODES = new Set([
  // postgres.js, and the socket under it
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'CONNECTION_CLOSED',
  'CONNECTION_ENDED',
  'CONNECTION_DESTROYED',
  'CONNECT_TIMEOUT',
  // PostgreSQL: admin_shutdown, crash_shutdown, cannot_connect_now
  '57P01',
  '57P02',
  '57P03',
]);

export function isDatabaseUnavailable(error: unknown): boolean {
  for (let cause = error, depth = 0; cause instanceof Error && depth < 5; depth++) {
    const code = (cause as { code?: unknown }).code;
    // SQLSTATE class 08: connection exceptions.
    if (typeof code === 'string' && (UNAVAILABLE_CODES.has(code) || /^08[0-9A-Z]{3}$/.test(code)))
      return true;
    cause = cause.cause;
  }
  return false;
}

/** Seconds a client waits before it asks again while the database is away. */
export const DATABASE_RETRY_AFTER_SECONDS = 5;
