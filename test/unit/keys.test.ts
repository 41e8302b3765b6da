import { describe, expect, it } from 'vitest';
import { generateKey, hashSecret, matchesHash, parseKey } from '../../control-api/keys.js';

describe('API keys', () => {
  it('carry a visible prefix and are stored only as a hash', () => {
    const { key, prefix, secretHash } = generateKey('environment');
    expect(key.startsWith(`${prefix}_`)).toBe(true);
    expect(prefix).toMatch(/^tav_env_[a-z0-9]{10}$/);
    expect(secretHash).toBe(hashSecret(key));
    expect(secretHash).not.toContain(key.slice(prefix.length + 1));
    expect(parseKey(key)).toEqual({ prefix });
  });

  it('match only their own hash', () => {
    const one = generateKey('organization');
    const two = generateKey('organization');
    expect(matchesHash(one.key, one.secretHash)).toBe(true);
    expect(matchesHash(two.key, one.secretHash)).toBe(false);
    expect(matchesHash(`${one.key}x`, one.secretHash)).toBe(false);
  });

  it('refuse malformed keys', () => {
    expect(parseKey('tav_env_short_x')).toBeNull();
    expect(parseKey('Bearer something')).toBeNull();
    expect(parseKey('')).toBeNull();
  });
});
