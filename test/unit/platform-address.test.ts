import { describe, expect, it } from 'vitest';
import { addressRules, isPlatformAddress } from '../../common/address-rules.js';

describe('platform addresses', () => {
  const rules = addressRules({ platform: ['127.0.0.1/32', '10.20.0.0/16'], customer: [] });

  it('are those in the platform networks, IPv4-mapped IPv6 included', () => {
    expect(isPlatformAddress('127.0.0.1', rules)).toBe(true);
    expect(isPlatformAddress('::ffff:10.20.3.4', rules)).toBe(true);
    expect(isPlatformAddress('10.21.0.1', rules)).toBe(false);
    expect(isPlatformAddress('2001:db8::1', rules)).toBe(false);
    expect(isPlatformAddress('not an address', rules)).toBe(false);
  });
});
