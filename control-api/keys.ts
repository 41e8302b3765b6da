import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

export type KeyKind = 'operator' | 'organization' | 'environment' | 'host';
const TAG: Record<KeyKind, string> = {
  operator: 'op',
  organization: 'org',
  environment: 'env',
  host: 'host',
};

/** A key reads `tav_<kind>_<id>_<secret>`; `tav_<kind>_<id>` is its public prefix. */
const KEY_PREFIX = 'tav_(?:op|org|env|host)_[a-z0-9]{10}';
const KEY_SECRET = '[A-Za-z0-9_-]{32,}';
const KEY_PATTERN = new RegExp(`^(${KEY_PREFIX})_(${KEY_SECRET})$`);
const KEY_ANYWHERE = new RegExp(`${KEY_PREFIX}_${KEY_SECRET}`);

/** Whether a text holds something shaped like a Tavio API key, anywhere in it. */
export const holdsKey = (text: string): boolean => KEY_ANYWHERE.test(text);

export function hashSecret(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

export function generateKey(kind: KeyKind): { key: string; prefix: string; secretHash: string } {
  const id = randomBytes(10).toString('hex').slice(0, 10);
  const prefix = `tav_${TAG[kind]}_${id}`;
  const key = `${prefix}_${randomBytes(32).toString('base64url')}`;
  return { key, prefix, secretHash: hashSecret(key) };
}

/** The public part of anything shaped like a key, even with a short or broken secret. */
const PREFIX_PATTERN = /^(tav_(?:op|org|env|host)_[a-z0-9]{10})(?:_|$)/;
export const claimedPrefix = (key: string): string | undefined => PREFIX_PATTERN.exec(key)?.[1];

export function parseKey(key: string): { prefix: string } | null {
  const match = KEY_PATTERN.exec(key);
  return match ? { prefix: match[1]! } : null;
}

export function matchesHash(key: string, secretHash: string): boolean {
  const a = Buffer.from(hashSecret(key), 'hex');
  const b = Buffer.from(secretHash, 'hex');
  return a.length === b.length && timingSafeEqual(a, b);
}
