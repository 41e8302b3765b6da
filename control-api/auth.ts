import { and, eq } from 'drizzle-orm';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Database } from '../db/client.js';
import { apiKeys, environments, organizations } from '../db/schema.js';
import type { KeyKind } from './keys.js';
import { matchesHash, parseKey } from './keys.js';
import type { AuthThrottle } from './limits/auth-throttle.js';
import { clientAddress } from './limits/rate-limits.js';
import { ProblemError, forbidden, notFound, unauthorized } from './problems.js';

const LAST_USED_RESOLUTION_MS = 60_000;

export interface Principal {
  keyId: string;
  kind: KeyKind;
  organizationId: string | null;
  environmentId: string | null;
  region: 'us' | 'ca' | 'eu' | null;
}

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal | null;
  }
}

/** Resolves an API key to its principal; unknown, malformed, revoked and expired keys get 401. */
export async function principalOfKey(db: Database, key: string): Promise<Principal> {
  const parsed = parseKey(key);
  if (!parsed) throw unauthorized('the API key is malformed');
  const [row] = await db.select().from(apiKeys).where(eq(apiKeys.prefix, parsed.prefix));
  if (!row || !matchesHash(key, row.secretHash)) throw unauthorized('the API key is not valid');
  return liveKey(db, row);
}

/**
 * `principalOfKey`, with its refusals counted by the failed-authentication throttle: a key that
 * works is never held back; a prefix or address that keeps failing is told to wait (429).
 */
export async function authenticate(
  db: Database,
  throttle: AuthThrottle,
  key: string,
  address: string,
): Promise<Principal> {
  try {
    return await principalOfKey(db, key);
  } catch (error) {
    if (error instanceof ProblemError && error.status === 401)
      throw await throttle.failed(key, address, error);
    throw error;
  }
}

/** The principal of a key already proven once (a Web UI session's), as long as the key still works. */
export async function principalOfKeyId(db: Database, keyId: string): Promise<Principal> {
  const [row] = await db.select().from(apiKeys).where(eq(apiKeys.id, keyId));
  if (!row) throw unauthorized('the API key is not valid');
  return liveKey(db, row);
}

async function liveKey(db: Database, row: typeof apiKeys.$inferSelect): Promise<Principal> {
  // Only a caller who holds the key learns why it no longer works.
  if (row.revokedAt) throw unauthorized('the API key was revoked');
  if (row.expiresAt && row.expiresAt <= new Date()) throw unauthorized('the API key has expired');
  // Last use is kept to the minute: a client polling a run does not write a row per request.
  const now = new Date();
  if (!row.lastUsedAt || now.getTime() - row.lastUsedAt.getTime() > LAST_USED_RESOLUTION_MS) {
    await db.update(apiKeys).set({ lastUsedAt: now }).where(eq(apiKeys.id, row.id));
  }
  return {
    keyId: row.id,
    kind: row.kind,
    organizationId: row.organizationId,
    environmentId: row.environmentId,
    region: row.region,
  };
}

/** Resolves the bearer key of every /v1 request. */
export function installAuth(app: FastifyInstance, db: Database, throttle: AuthThrottle): void {
  app.decorateRequest('principal', null);
  app.addHook('onRequest', async (request) => {
    if (!request.url.startsWith('/v1/')) return;
    const header = request.headers.authorization ?? '';
    const key = header.startsWith('Bearer ') ? header.slice(7).trim() : '';
    if (!key) throw unauthorized('send an API key as `Authorization: Bearer <key>`');
    request.principal = await authenticate(db, throttle, key, clientAddress(request));
  });
}

export function principalOf(request: FastifyRequest): Principal {
  if (!request.principal) throw unauthorized('no API key');
  return request.principal;
}

/** Whether the key is that region's host key: what a region's host-only routes answer to. */
export function isRegionHost(principal: Principal, region: string): boolean {
  return principal.kind === 'host' && principal.region === region;
}

export function requireOperator(principal: Principal): void {
  if (principal.kind !== 'operator') throw forbidden('this action needs the operator key');
}

/**
 * Finds an organization the key may see. Another organization's resources answer 404, so a key
 * learns nothing about what it cannot reach.
 */
export async function visibleOrganization(
  db: Database,
  principal: Principal,
  slug: string,
  level: 'admin' | 'member',
) {
  const [org] = await db.select().from(organizations).where(eq(organizations.slug, slug));
  const own = principal.kind === 'operator' || (org !== undefined && principal.organizationId === org.id);
  if (!org || !own || principal.kind === 'host') throw notFound(`organization ${slug}`);
  if (level === 'admin' && principal.kind === 'environment')
    throw forbidden('an environment key acts only on its own environment');
  return org;
}

/** Finds an environment the key may act on: operator, its organization's key, or that environment's own key. */
export async function visibleEnvironment(
  db: Database,
  principal: Principal,
  { org: orgSlug, env: envSlug }: { org: string; env: string },
) {
  const org = await visibleOrganization(db, principal, orgSlug, 'member');
  const [env] = await db
    .select()
    .from(environments)
    .where(and(eq(environments.organizationId, org.id), eq(environments.slug, envSlug)));
  if (!env || (principal.kind === 'environment' && principal.environmentId !== env.id)) {
    throw notFound(`environment ${orgSlug}/${envSlug}`);
  }
  return { org, env };
}
