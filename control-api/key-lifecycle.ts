import { and, asc, eq, isNull, ne, count } from 'drizzle-orm';
import type { SQL } from 'drizzle-orm';
import { z } from 'zod';
import type { Database } from '../db/client.js';
import { transactionLock } from '../db/locks.js';
import { apiKeys } from '../db/schema.js';
import { audit } from './audit.js';
import type { Principal } from './auth.js';
import { generateKey } from './keys.js';
import { conflict } from './problems.js';
import { jsonResponse, problemResponses } from './openapi.js';
import { apiKeySchema, issuedApiKeySchema } from './openapi-schemas.js';

export type KeyRow = typeof apiKeys.$inferSelect;
type Tx = Parameters<Parameters<Database['transaction']>[0]>[0];

const DAY_MS = 24 * 60 * 60 * 1000;
/** The longest a rotated key keeps working beside its successor. */
export const MAX_OVERLAP_SECONDS = 7 * 24 * 60 * 60;

export const expiresInDays = z.number().int().min(1).max(366);
export const issueBody = z.object({ expiresInDays: expiresInDays.optional() }).strict();
export const rotateBody = z
  .object({
    /** How long the old key keeps working beside the new one; 0 (the default) stops it now. */
    overlapSeconds: z.number().int().min(0).max(MAX_OVERLAP_SECONDS).optional(),
    /** The new key's lifetime; by default the old key's. */
    expiresInDays: expiresInDays.optional(),
  })
  .strict();

export function keyStatus(row: KeyRow, now = new Date()) {
  if (row.revokedAt) return 'revoked' as const;
  if (row.expiresAt && row.expiresAt <= now) return 'expired' as const;
  return row.replacedByKeyId ? ('rotated' as const) : ('active' as const);
}

/** What a listing shows of a key: never its secret or hash. */
export const keyView = (row: KeyRow) => ({
  id: row.id,
  kind: row.kind,
  prefix: row.prefix,
  status: keyStatus(row),
  organizationId: row.organizationId,
  environmentId: row.environmentId,
  region: row.region,
  createdAt: row.createdAt.toISOString(),
  lastUsedAt: row.lastUsedAt?.toISOString() ?? null,
  expiresAt: row.expiresAt?.toISOString() ?? null,
  revokedAt: row.revokedAt?.toISOString() ?? null,
  replacedBy: row.replacedByKeyId,
});

interface Owner {
  kind: KeyRow['kind'];
  organizationId?: string | null;
  environmentId?: string | null;
  region?: KeyRow['region'];
}

/** Issues a key (its secret is returned this once) and audits it, inside the caller's transaction. */
export async function issueKey(tx: Tx, actor: Principal, owner: Owner, expiresAt: Date | null) {
  const key = generateKey(owner.kind);
  const [row] = await tx
    .insert(apiKeys)
    .values({ ...owner, prefix: key.prefix, secretHash: key.secretHash, expiresAt })
    .returning();
  await audit(tx, {
    actorKeyId: actor.keyId,
    action: 'api_key.created',
    organizationId: owner.organizationId ?? null,
    environmentId: owner.environmentId ?? null,
    target: key.prefix,
    details: { keyId: row!.id, kind: owner.kind, ...(owner.region ? { region: owner.region } : {}) },
  });
  return { ...keyView(row!), key: key.key };
}

export const expiryIn = (days: number | undefined) => (days ? new Date(Date.now() + days * DAY_MS) : null);

/** Issues a key in a transaction of its own, expiring `expiresInDays` from now when given. */
export const issueKeyNow = (db: Database, actor: Principal, owner: Owner, expiresInDays?: number) =>
  db.transaction((tx) => issueKey(tx, actor, owner, expiryIn(expiresInDays)));

/** The keys `where` selects, oldest first, as listings show them. */
export async function listKeys(db: Database, where: SQL | undefined) {
  const rows = await db.select().from(apiKeys).where(where).orderBy(asc(apiKeys.createdAt));
  return { apiKeys: rows.map(keyView) };
}

/** What issuing a key answers, whichever route issues it. */
export const issueResponses = (problems: Parameters<typeof problemResponses>[1]) => ({
  201: jsonResponse('The key, its secret shown once', issuedApiKeySchema),
  ...problemResponses('body', problems),
});

/**
 * Operator keys are revoked one at a time, and never the last one that keeps working: without it
 * nobody could create organizations, host keys or another operator key. A key that will stop by
 * itself (an expiry, or the end of a rotation's overlap) does not count as one that keeps working.
 */
async function assertNotLastOperatorKey(tx: Tx, row: KeyRow) {
  if (row.kind !== 'operator') return;
  await transactionLock(tx, 'operator-keys');
  const [others] = await tx
    .select({ n: count() })
    .from(apiKeys)
    .where(
      and(
        eq(apiKeys.kind, 'operator'),
        ne(apiKeys.id, row.id),
        isNull(apiKeys.revokedAt),
        isNull(apiKeys.replacedByKeyId),
        isNull(apiKeys.expiresAt),
      ),
    );
  if (others!.n === 0)
    throw conflict(
      'last-operator-key',
      `${row.prefix} is the last operator key that keeps working; issue another one without an expiry before revoking it`,
    );
}

export async function revokeKey(db: Database, actor: Principal, row: KeyRow) {
  return db.transaction(async (tx) => {
    await assertNotLastOperatorKey(tx, row);
    const [revoked] = await tx
      .update(apiKeys)
      .set({ revokedAt: new Date() })
      .where(and(eq(apiKeys.id, row.id), isNull(apiKeys.revokedAt)))
      .returning();
    if (!revoked) throw conflict('already-revoked', `API key ${row.prefix} is already revoked`);
    await audit(tx, {
      actorKeyId: actor.keyId,
      action: 'api_key.revoked',
      organizationId: row.organizationId,
      environmentId: row.environmentId,
      target: row.prefix,
      details: { keyId: row.id, kind: row.kind },
    });
    return keyView(revoked);
  });
}

/**
 * Issues the key's successor with the same scope. The old key stops now, or keeps working for the
 * overlap (never past its own expiry) so that its holder can switch without an outage. A key is
 * rotated once: a second rotation, at once or later, answers 409.
 */
export async function rotateKey(
  db: Database,
  actor: Principal,
  row: KeyRow,
  options: z.infer<typeof rotateBody>,
) {
  return db.transaction(async (tx) => {
    const [current] = await tx.select().from(apiKeys).where(eq(apiKeys.id, row.id)).for('update');
    const status = keyStatus(current!);
    if (status === 'revoked' || status === 'expired')
      throw conflict('already-revoked', `API key ${row.prefix} is ${status}; issue a new one`);
    if (status === 'rotated')
      throw conflict(
        'already-rotated',
        `API key ${row.prefix} was already rotated to ${current!.replacedByKeyId}`,
      );
    const lifetime = current!.expiresAt ? current!.expiresAt.getTime() - current!.createdAt.getTime() : null;
    const expiresAt = options.expiresInDays
      ? expiryIn(options.expiresInDays)
      : lifetime
        ? new Date(Date.now() + lifetime)
        : null;
    const { kind, organizationId, environmentId, region } = current!;
    const next = await issueKey(tx, actor, { kind, organizationId, environmentId, region }, expiresAt);
    const overlap = options.overlapSeconds ?? 0;
    const overlapEnds = new Date(Date.now() + overlap * 1000);
    await tx
      .update(apiKeys)
      .set({
        replacedByKeyId: next.id,
        ...(overlap === 0
          ? { revokedAt: new Date() }
          : {
              expiresAt:
                current!.expiresAt && current!.expiresAt < overlapEnds ? current!.expiresAt : overlapEnds,
            }),
      })
      .where(eq(apiKeys.id, row.id));
    await audit(tx, {
      actorKeyId: actor.keyId,
      action: 'api_key.rotated',
      organizationId: row.organizationId,
      environmentId: row.environmentId,
      target: row.prefix,
      details: { keyId: row.id, kind: row.kind, replacedBy: next.id, overlapSeconds: overlap },
    });
    return next;
  });
}

/** What revoking a key answers, whichever route revokes it. */
export const revokeResponses = {
  200: jsonResponse('The key, revoked', apiKeySchema),
  ...problemResponses('body', { 403: ['forbidden'], 404: ['not-found'], 409: ['already-revoked'] }),
};

/** What rotating a key answers, whichever route rotates it. */
export const rotateResponses = {
  201: jsonResponse('The successor key, its secret shown once', issuedApiKeySchema),
  ...problemResponses('body', {
    403: ['forbidden'],
    404: ['not-found'],
    409: ['already-revoked', 'already-rotated'],
  }),
};
