import { and, eq, gt, isNull, or } from 'drizzle-orm';
import type { Database } from '../db/client.js';
import { apiKeys } from '../db/schema.js';
import { audit } from './audit.js';
import { generateKey, hashSecret, parseKey } from './keys.js';

/**
 * Makes sure an operator key exists. A configured key is registered; with none configured and none
 * usable (neither revoked nor expired) registered, one is generated and returned so the caller can
 * print it once.
 */
export async function ensureOperatorKey(db: Database, configured?: string): Promise<string | null> {
  if (configured) {
    const parsed = parseKey(configured);
    if (!parsed)
      throw new Error(
        'TAVIO_OPERATOR_KEY is malformed: expected tav_op_<10 characters>_<at least 32 characters>',
      );
    await db
      .insert(apiKeys)
      .values({ kind: 'operator', prefix: parsed.prefix, secretHash: hashSecret(configured) })
      .onConflictDoNothing();
    return null;
  }
  const existing = await db
    .select({ id: apiKeys.id })
    .from(apiKeys)
    .where(
      and(
        eq(apiKeys.kind, 'operator'),
        isNull(apiKeys.revokedAt),
        or(isNull(apiKeys.expiresAt), gt(apiKeys.expiresAt, new Date())),
      ),
    )
    .limit(1);
  if (existing.length > 0) return null;
  const key = generateKey('operator');
  const [row] = await db
    .insert(apiKeys)
    .values({ kind: 'operator', prefix: key.prefix, secretHash: key.secretHash })
    .returning();
  await audit(db, {
    actorKeyId: null,
    action: 'operator_key.generated',
    target: key.prefix,
    details: { keyId: row!.id },
  });
  return key.key;
}
