import { describe, expect, it } from 'vitest';
import {
  dataplanePermissions,
  dataplaneTrustPolicy,
  provisionerPermissions,
} from '../../control-api/provisioning/policies.js';
import { bucketOf, namespaceOf, keyAliasOf } from '../../common/names.js';

describe("an environment's data-plane policy", () => {
  const scope = {
    bucket: 'tavio-acme-production-1a2b3c4d',
    organization: 'acme',
    environment: 'production',
    region: 'eu',
  };
  const policy = dataplanePermissions(scope);

  it('names exactly its own bucket and its objects, and binds key use to its own encryption context', () => {
    const [bucket, objects, key] = policy.Statement;
    expect(bucket!.Resource).toEqual([`arn:aws:s3:::${scope.bucket}`]);
    expect(objects!.Resource).toEqual([`arn:aws:s3:::${scope.bucket}/*`]);
    expect(key!.Condition).toEqual({
      StringEquals: {
        'kms:EncryptionContext:organization': 'acme',
        'kms:EncryptionContext:environment': 'production',
        'kms:EncryptionContext:region': 'eu',
      },
    });
    expect(policy.Statement).toHaveLength(3);
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

describe("the control plane's provisioner policy", () => {
  const provisionerArn = 'arn:aws:iam::210987654321:role/tavio-provisioner';
  const policy = provisionerPermissions('210987654321', provisionerArn);
  const denied = (action: string) =>
    policy.Statement.filter((s) => s.Effect === 'Deny' && s.Action.includes(action)).flatMap(
      (s) => s.Resource,
    );

  it('denies reading credentials back and decrypting anything', () => {
    expect(denied('s3:GetObject')).toEqual(['arn:aws:s3:::*/credentials/*']);
    expect(denied('kms:Decrypt')).toEqual(['*']);
  });

  it('denies changing its own role and rewriting any role trust', () => {
    expect(denied('iam:*')).toEqual([provisionerArn]);
    expect(denied('iam:UpdateAssumeRolePolicy')).toEqual(['arn:aws:iam::210987654321:role/*']);
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
