import type { NativeConnection } from '@temporalio/worker';
import type { TemporalToken } from '../common/worker-secrets.js';

/** A token is given up this long before it expires: calls in flight must not carry a dead token. */
const EXPIRY_MARGIN_MS = 5_000;

/**
 * Holds the worker's Temporal token: puts each renewal on the connection, and calls `onExpired`
 * when the current token is about to expire with no renewal in sight.
 */
export function createTokenWatch(onExpired: (reason: string) => void) {
  let connection: NativeConnection | undefined;
  let expiry: NodeJS.Timeout | undefined;
  return {
    /** Takes a new token; answers the connection metadata that carries it. */
    renew(token: TemporalToken): Record<string, string> {
      clearTimeout(expiry);
      expiry = setTimeout(
        () => onExpired(`its Temporal token expires at ${token.expiresAt} and the host sent no new one`),
        Math.max(0, Date.parse(token.expiresAt) - Date.now() - EXPIRY_MARGIN_MS),
      );
      const metadata = { authorization: `Bearer ${token.token}` };
      void connection?.setMetadata(metadata);
      return metadata;
    },
    attach(to: NativeConnection): void {
      connection = to;
    },
    stop(): void {
      clearTimeout(expiry);
    },
  };
}
