import { randomBytes } from 'node:crypto';
import { asc, isNull, lte, or, gt, sql } from 'drizzle-orm';
import { SignJWT, exportJWK, exportPKCS8, generateKeyPair, importPKCS8 } from 'jose';
import type { CryptoKey, JWK } from 'jose';
import type { Database } from '../../db/client.js';
import { temporalSigningKeys } from '../../db/schema.js';

const ALG = 'ES256';
const CACHE_MS = 2_000;

type KeyRow = typeof temporalSigningKeys.$inferSelect;

export interface SigningKeyTimings {
  /** How long a new key is published before it signs: longer than Temporal's JWKS refresh. */
  publishLeadMs: number;
  /** The longest lifetime of a token; a replaced key stays published that long after it stops signing. */
  maxTokenTtlMs: number;
}

export interface SignedToken {
  token: string;
  kid: string;
  expiresAt: Date;
}

/**
 * The keys that sign Temporal tokens. Every control API process reads them from the control
 * database, so any of them signs and publishes the same set.
 */
export function createSigningKeys(db: Database, timings: SigningKeyTimings) {
  let cached: { at: number; rows: KeyRow[] } | undefined;
  const privateKeys = new Map<string, Promise<CryptoKey>>();

  async function published(): Promise<KeyRow[]> {
    if (cached && Date.now() - cached.at < CACHE_MS) return cached.rows;
    const now = new Date();
    const rows = await db
      .select()
      .from(temporalSigningKeys)
      .where(or(isNull(temporalSigningKeys.retiresAt), gt(temporalSigningKeys.retiresAt, now)))
      .orderBy(asc(temporalSigningKeys.activatesAt));
    cached = { at: Date.now(), rows };
    return rows;
  }

  async function insertKey(activatesAt: Date): Promise<KeyRow> {
    const { privateKey, publicKey } = await generateKeyPair(ALG, { extractable: true });
    const kid = `tavio-${randomBytes(8).toString('hex')}`;
    const jwk: JWK = { ...(await exportJWK(publicKey)), kid, alg: ALG, use: 'sig' };
    const [row] = await db
      .insert(temporalSigningKeys)
      .values({ kid, privateKey: await exportPKCS8(privateKey), publicJwk: jwk, activatesAt })
      .returning();
    cached = undefined;
    return row!;
  }

  /** The newest key whose activation has come; the first start creates one that signs at once. */
  async function current(): Promise<KeyRow> {
    const now = Date.now();
    const active = (await published()).filter((row) => row.activatesAt.getTime() <= now);
    return active.at(-1) ?? (await insertKey(new Date()));
  }

  function privateKeyOf(row: KeyRow): Promise<CryptoKey> {
    let key = privateKeys.get(row.kid);
    if (!key) {
      key = importPKCS8(row.privateKey, ALG);
      privateKeys.set(row.kid, key);
    }
    return key;
  }

  return {
    /** The JWKS Temporal verifies tokens with: every key that signs, will sign, or signed a live token. */
    async jwks(): Promise<{ keys: JWK[] }> {
      if ((await published()).length === 0) await current();
      return { keys: (await published()).map((row) => row.publicJwk as JWK) };
    },

    /**
     * Signs a token for `subject` holding `permissions` (`<namespace>:<role>`). A token for another
     * service than Temporal names it as its audience, holds no permission, and carries its claims.
     */
    async sign(
      subject: string,
      permissions: readonly string[],
      ttlMs: number,
      other?: { audience: string; claims: Record<string, unknown> },
    ): Promise<SignedToken> {
      if (ttlMs > timings.maxTokenTtlMs) throw new Error(`a token lives at most ${timings.maxTokenTtlMs} ms`);
      const row = await current();
      const expiresAt = new Date(Date.now() + ttlMs);
      const jwt = new SignJWT({ ...other?.claims, permissions: other ? [] : [...permissions] });
      if (other) jwt.setAudience(other.audience);
      const token = await jwt
        .setProtectedHeader({ alg: ALG, kid: row.kid, typ: 'JWT' })
        .setSubject(subject)
        .setIssuedAt()
        .setExpirationTime(Math.floor(expiresAt.getTime() / 1000))
        .sign(await privateKeyOf(row));
      return { token, kid: row.kid, expiresAt };
    },

    /**
     * Publishes a new key that starts signing after the publish lead; the keys it replaces stay
     * published until the tokens they signed have expired, then leave the JWKS.
     */
    async rotate(): Promise<{ kid: string; activatesAt: Date; previousRetireAt: Date }> {
      const activatesAt = new Date(Date.now() + timings.publishLeadMs);
      const previousRetireAt = new Date(activatesAt.getTime() + timings.maxTokenTtlMs);
      await db
        .update(temporalSigningKeys)
        .set({ retiresAt: previousRetireAt })
        .where(
          sql`${isNull(temporalSigningKeys.retiresAt)} and ${lte(temporalSigningKeys.activatesAt, activatesAt)}`,
        );
      const row = await insertKey(activatesAt);
      return { kid: row.kid, activatesAt, previousRetireAt };
    },
  };
}
export type SigningKeys = ReturnType<typeof createSigningKeys>;
