import { eq } from 'drizzle-orm';
import type { Limits } from '../../common/config.js';
import type { Database } from '../../db/client.js';
import { apiKeys } from '../../db/schema.js';
import { audit } from '../audit.js';
import { claimedPrefix } from '../keys.js';
import type { ProblemError } from '../problems.js';
import { tooManyRequests } from '../problems.js';
import type { Counters } from './counters.js';

/**
 * Failed authentications, counted per key prefix and per client address over a window. A key that
 * works always works: only failures are counted and refused, so knowing a key's prefix (which is
 * not secret) never lets anyone lock its holder out. Once a prefix or an address has failed more
 * often than its limit, each further failure is answered 429 with `Retry-After` until the window
 * ends, instead of 401, and the burst is audited once, at its first refusal.
 */
export interface AuthThrottle {
  /** Counts a failure and answers what to send: the refusal as it is, or 429. */
  failed(key: string, address: string, refusal: ProblemError): Promise<ProblemError>;
}

export function createAuthThrottle(db: Database, counters: Counters, limits: Limits): AuthThrottle {
  const windowMs = limits.authFailureWindowSeconds * 1000;
  const scopes = (key: string, address: string) => {
    const prefix = claimedPrefix(key);
    return [
      ...(prefix ? [{ counter: `auth-failures:key:${prefix}`, max: limits.authFailuresPerKey, prefix }] : []),
      { counter: `auth-failures:address:${address}`, max: limits.authFailuresPerAddress, prefix: undefined },
    ];
  };

  async function auditBurst(scope: { prefix?: string }, address: string, failures: number) {
    const [owner] = scope.prefix
      ? await db
          .select({ organizationId: apiKeys.organizationId, environmentId: apiKeys.environmentId })
          .from(apiKeys)
          .where(eq(apiKeys.prefix, scope.prefix))
      : [];
    await audit(db, {
      actorKeyId: null,
      action: 'auth.throttled',
      organizationId: owner?.organizationId ?? null,
      environmentId: owner?.environmentId ?? null,
      target: scope.prefix ?? address,
      details: {
        scope: scope.prefix ? 'key' : 'address',
        address,
        failures,
        windowSeconds: limits.authFailureWindowSeconds,
      },
    });
  }

  return {
    async failed(key, address, refusal) {
      let throttled: ProblemError | undefined;
      for (const scope of scopes(key, address)) {
        const window = await counters.increment(scope.counter, windowMs);
        if (window.current <= scope.max) continue;
        if (window.current === scope.max + 1) await auditBurst(scope, address, window.current);
        const who = scope.prefix ? `key ${scope.prefix}` : `address ${address}`;
        throttled ??= tooManyRequests(
          'authentication-throttled',
          `more than ${scope.max} failed authentications for ${who}; retry in ${Math.ceil(window.ttl / 1000)} s`,
          window.ttl / 1000,
        );
      }
      return throttled ?? refusal;
    },
  };
}
