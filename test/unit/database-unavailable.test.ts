import { describe, expect, it } from 'vitest';
import { isDatabaseUnavailable } from '../../control-api/database-unavailable.js';

const withCode = (code: string, cause?: Error) => Object.assign(new Error('failed', { cause }), { code });

describe('database unavailable', () => {
  it('recognizes a refused, closed or shutting-down database, also wrapped by the query builder', () => {
    const inQuery = (cause: Error) =>
      Object.assign(new Error('Failed query', { cause }), { query: 'select 1' });
    expect(isDatabaseUnavailable(inQuery(withCode('ECONNREFUSED')))).toBe(true);
    expect(isDatabaseUnavailable(withCode('57P01'))).toBe(true);
    expect(isDatabaseUnavailable(withCode('08006'))).toBe(true);
    expect(isDatabaseUnavailable(new Error('Failed query', { cause: withCode('CONNECTION_CLOSED') }))).toBe(
      true,
    );
  });

  it('leaves failed queries alone', () => {
    expect(isDatabaseUnavailable(withCode('23505'))).toBe(false);
    expect(isDatabaseUnavailable(withCode('42P01'))).toBe(false);
    expect(isDatabaseUnavailable(new Error('boom'))).toBe(false);
    expect(isDatabaseUnavailable('ECONNREFUSED')).toBe(false);
    // A refused connection to another service (Temporal, S3) is not the database's.
    expect(isDatabaseUnavailable(withCode('ECONNREFUSED'))).toBe(false);
  });
});
