import { describe, expect, it } from 'vitest';
import { dataplanePermissions, dataplaneTrustPolicy } from '../../control-api/provisioning/policies.js';
import { bucketOf, namespaceOf, keyAliasOf } from '../../common/names.js';

describe("an environment's data-plane policy", () => {
  const bucket = 'tavio-acme-production-1a2b3c4d';
  const keyArn = 'arn:aws:kms:eu-central-1:210987654321:key/0f6e2a4c-1111-4222-8333-944455556666';
  const policy = dataplanePermissions(bucket, keyArn);

  it('names exactly its own bucket, its objects and its key', () => {
    const resources = policy.Statement.flatMap((s) => s.Resource);
    expect(resources.sort()).toEqual([`arn:aws:s3:::${bucket}`, `arn:aws:s3:::${bucket}/*`, keyArn].sort());
    expect(JSON.stringify(policy)).not.toContain('"*"');
  });

  it('allows nothing but data access: no IAM, no key administration, no bucket deletion', () => {
    const actions = policy.Statement.flatMap((s) => s.Action);
    expect(actions.every((a) => a.startsWith('s3:') || a.startsWith('kms:'))).toBe(true);
    expect(actions).not.toContain('kms:ScheduleKeyDeletion');
    expect(actions).not.toContain('s3:DeleteBucket');
    expect(policy.Statement.every((s) => s.Effect === 'Allow')).toBe(true);
  });

  it("trusts only its region's worker host", () => {
    const trust = dataplaneTrustPolicy('arn:aws:iam::123456789012:role/tavio-host-eu1');
    expect(trust.Statement).toEqual([
      {
        Effect: 'Allow',
        Principal: { AWS: 'arn:aws:iam::123456789012:role/tavio-host-eu1' },
        Action: 'sts:AssumeRole',
      },
    ]);
  });
});

describe('names derived from slugs', () => {
  it('give each environment its namespace, alias and a DNS-safe bucket of at most 63 characters', () => {
    expect(namespaceOf('acme', 'production')).toBe('acme-production');
    expect(keyAliasOf('acme', 'production')).toBe('alias/tavio/acme/production');
    const longest = bucketOf('a'.repeat(20), 'b'.repeat(20), '12345678-aaaa-4bbb-8ccc-123456789abc');
    expect(longest).toMatch(/^[a-z0-9-]{3,63}$/);
    expect(longest.endsWith('-12345678')).toBe(true);
  });
});
