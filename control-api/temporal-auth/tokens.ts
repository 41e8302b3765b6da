import type { SignedToken, SigningKeys } from './signing-keys.js';

/** Roles of Temporal's default authorizer; each includes the ones before it. */
export const TEMPORAL_ROLES = ['read', 'write', 'admin'] as const;
export type TemporalRole = (typeof TEMPORAL_ROLES)[number];

/** Temporal's own name for cluster-wide permissions. */
export const SYSTEM_NAMESPACE = 'temporal-system';

export const permission = (namespace: string, role: TemporalRole): string => `${namespace}:${role}`;

/**
 * Tokens the control plane itself calls Temporal with: one per namespace and role, reused until
 * half of its life has passed, so a request signs rarely and a call never carries a token about
 * to expire.
 */
export function createControlPlaneTokens(keys: SigningKeys, ttlMs: number, subject = 'tavio-control-api') {
  const cache = new Map<string, Promise<SignedToken>>();
  return async function tokenFor(namespace: string, role: TemporalRole): Promise<string> {
    const grant = permission(namespace, role);
    const held = cache.get(grant);
    if (held) {
      const signed = await held.catch(() => undefined);
      if (signed && signed.expiresAt.getTime() - Date.now() > ttlMs / 2) return signed.token;
    }
    const signing = keys.sign(`${subject}:${grant}`, [grant], ttlMs);
    cache.set(grant, signing);
    return (await signing).token;
  };
}
export type ControlPlaneTokens = ReturnType<typeof createControlPlaneTokens>;
