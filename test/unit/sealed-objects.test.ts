import { describe, expect, it } from 'vitest';
import { objectKeyOf, sealContext, SealedObjectError } from '../../common/sealed-objects.js';

describe('the sealed object layout', () => {
  it('places each object under its purpose', () => {
    expect(objectKeyOf('credentials', 'c0ffee')).toBe('credentials/c0ffee');
    expect(objectKeyOf('files', 'inbound/2026-11-29/employees.csv')).toBe(
      'files/inbound/2026-11-29/employees.csv',
    );
  });

  it.each([
    ['a parent segment', 'tmp', '../credentials/c0ffee'],
    ['an empty segment', 'logs', 'runs//x'],
    ['a leading slash', 'files', '/etc/passwd'],
    ['an empty name', 'tmp', ''],
    ['an unknown purpose', 'secrets', 'x'],
  ])('refuses %s', (_case, purpose, name) => {
    expect(() => objectKeyOf(purpose as 'tmp', name)).toThrow(SealedObjectError);
  });

  it("binds an object's context to its owner and its own key", () => {
    const scope = {
      organization: 'acme',
      environment: 'prod',
      region: 'eu',
      keyArn: 'arn:aws:kms:eu-central-1:1:key/k',
    };
    expect(sealContext(scope, 'credentials/c0ffee')).toEqual({
      organization: 'acme',
      environment: 'prod',
      region: 'eu',
      object: 'credentials/c0ffee',
    });
  });
});
