import { eq } from 'drizzle-orm';
import type { Limits } from '../../common/config.js';
import type { Database } from '../../db/client.js';
import { apiKeys } from '../../db/schema.js';
import { audit } from '../audit.js';
import { tooManyRequests } from '../problems.js';
import type { Counters } from './counters.js';

/** The public part of anything shaped like a key, even with a short or broken secret. */
const PREFIX_PATTERN = /^(tav_(?:op|org|env|host)_[a-z0-9]{10})(?:_|$)/;

export const claimedPrefix = (key: string): string | undefined => PREFIX_PATTERN.exec(key)?.[1];

/**
 * Failed authentications, counted per key prefix and per client address over a window. Once either
 * reaches its limit, further attempts are refused with 429 before the secret is checked, until the
 * window ends, and the burst is audited once: when it reaches the limit.
 */
export interface AuthThrottle {
  assertAllowed(key: string, address: string): Promise<void>;
  failed(key: string, address: string): Promise<void>;
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

  return {
    async assertAllowed(key, address) {
      for (const scope of scopes(key, address)) {
        const window = await counters.read(scope.counter);
        if (window.current < scope.max) continue;
        const who = scope.prefix ? `key ${scope.prefix}` : `address ${address}`;
        throw tooManyRequests(
          'authentication-throttled',
          `${window.current} failed authentications for ${who}; retry in ${Math.ceil(window.ttl / 1000)} s`,
          window.ttl / 1000,
        );
      }
    },

    async failed(key, address) {
      for (const scope of scopes(key, address)) {
        const window = await counters.increment(scope.counter, windowMs);
        if (window.current !== scope.max) continue;
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
            failures: window.current,
            windowSeconds: limits.authFailureWindowSeconds,
          },
        });
      }
    },
  };
}
