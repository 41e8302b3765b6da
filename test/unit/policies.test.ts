import { describe, expect, it } from 'vitest';
import {
  dataplanePermissions,
  dataplaneTrustPolicy,
  provisionerPermissions,
} from '../../control-api/provisioning/policies.js';
import type { PolicyDocument } from '../../control-api/provisioning/policies.js';
import { bucketOf, keyAliasOf, namespaceMayBelongTo, namespaceOf } from '../../common/names.js';

const statements = (policy: PolicyDocument) => policy.Statement;
const bySid = (policy: PolicyDocument, sid: string) => statements(policy).find((s) => s.Sid === sid)!;

describe("an environment's data-plane policy", () => {
  const scope = {
    bucket: 'tavio-acme-production-1a2b3c4d',
    organization: 'acme',
    environment: 'production',
    region: 'eu',
    awsRegion: 'eu-central-1',
  };
  const policy = dataplanePermissions(scope);
  const bucketArn = `arn:aws:s3:::${scope.bucket}`;

  it('names exactly its own bucket and its objects', () => {
    const s3Resources = statements(policy)
      .filter((s) => s.Action.every((a) => a.startsWith('s3:')))
      .flatMap((s) => s.Resource);
    expect([...new Set(s3Resources)].sort()).toEqual(
      [
        bucketArn,
        `${bucketArn}/*`,
        `${bucketArn}/credentials/*`,
        `${bucketArn}/tmp/*`,
        `${bucketArn}/quarantine/*`,
      ].sort(),
    );
  });

  it('lets it find and give up unfinished uploads under tmp/ and quarantine/ only', () => {
    expect(bySid(policy, 'OwnBufferedUploads')).toMatchObject({
      Effect: 'Allow',
      Action: ['s3:ListMultipartUploadParts', 's3:AbortMultipartUpload'],
      Resource: [`${bucketArn}/tmp/*`, `${bucketArn}/quarantine/*`],
    });
  });

  it('binds key use to its own encryption context, or to S3 acting for its bucket', () => {
    expect(bySid(policy, 'OwnKeyForSealedObjects').Condition).toEqual({
      StringEquals: {
        'kms:EncryptionContext:organization': 'acme',
        'kms:EncryptionContext:environment': 'production',
        'kms:EncryptionContext:region': 'eu',
      },
    });
    expect(bySid(policy, 'OwnKeyForBucketEncryption').Condition).toEqual({
      StringEquals: {
        'kms:ViaService': 's3.eu-central-1.amazonaws.com',
        'kms:EncryptionContext:aws:s3:arn': bucketArn,
      },
    });
    const kms = statements(policy).filter((s) => s.Action.some((a) => a.startsWith('kms:')));
    expect(kms.every((s) => s.Condition !== undefined)).toBe(true);
  });

  it('cannot replace or remove credentials, administer keys or touch IAM', () => {
    expect(bySid(policy, 'CredentialsAreReadOnly')).toMatchObject({
      Effect: 'Deny',
      Action: ['s3:PutObject', 's3:DeleteObject'],
    });
    const allowed = statements(policy)
      .filter((s) => s.Effect === 'Allow')
      .flatMap((s) => s.Action);
    expect(allowed.every((a) => a.startsWith('s3:') || a.startsWith('kms:'))).toBe(true);
    expect(allowed).not.toContain('kms:ScheduleKeyDeletion');
    expect(allowed).not.toContain('s3:DeleteBucket');
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
  const allowed = statements(policy)
    .filter((s) => s.Effect === 'Allow')
    .flatMap((s) => s.Action);
  const denied = (action: string) =>
    statements(policy)
      .filter((s) => s.Effect === 'Deny' && s.Action.includes(action))
      .flatMap((s) => s.Resource);

  it('allows named actions only: no wildcard, no user, access key, grant or key policy', () => {
    expect(allowed.filter((a) => a.includes('*'))).toEqual([]);
    for (const forbidden of [
      'iam:CreateUser',
      'iam:CreateAccessKey',
      'iam:AttachRolePolicy',
      'iam:UpdateAssumeRolePolicy',
      'kms:Decrypt',
      'kms:CreateGrant',
      'kms:PutKeyPolicy',
      's3:GetObject',
      's3:PutBucketPolicy',
    ]) {
      expect(allowed).not.toContain(forbidden);
    }
    expect(bySid(policy, 'WriteCredentials').Resource).toEqual(['arn:aws:s3:::*/credentials/*']);
  });

  it('denies reading any object and decrypting anything', () => {
    expect(denied('s3:GetObject')).toEqual(['arn:aws:s3:::*/*']);
    expect(denied('kms:Decrypt')).toEqual(['*']);
    expect(denied('kms:CreateGrant')).toEqual(['*']);
  });

  it('denies changing its own role and rewriting any role trust', () => {
    expect(denied('iam:*')).toEqual([provisionerArn]);
    expect(denied('iam:UpdateAssumeRolePolicy')).toEqual(['arn:aws:iam::210987654321:role/*']);
  });
});

describe('names derived from slugs', () => {
  const id = '1f2e3d4c-aaaa-4bbb-8ccc-123456789abc';

  it("give each environment a namespace of its own, within Temporal Cloud's rules, whatever hyphens its slugs hold", () => {
    expect(namespaceOf('acme', 'production', id)).toBe('acme-production-1f2e3d4c');
    // The same `<org>-<env>` from two organizations: the ids tell them apart.
    const other = '9a8b7c6d-aaaa-4bbb-8ccc-123456789abc';
    expect(namespaceOf('x', 'ns-dev', id)).not.toBe(namespaceOf('x-ns', 'dev', other));
    const cloudRule = /^[a-z][a-z0-9-]{0,37}[a-z0-9]$/;
    for (const [org, env] of [
      ['a'.repeat(20), 'b'.repeat(20)],
      // The cut falls on a hyphen.
      ['a'.repeat(20), 'abcdefgh-ijk'],
      ['acme', 'a'.repeat(9) + '-' + 'b'.repeat(10)],
      ['temporal', 'system'],
    ] as const) {
      const name = namespaceOf(org, env, id);
      expect(name).toMatch(cloudRule);
      expect(name.endsWith('-1f2e3d4c')).toBe(true);
      expect(name).not.toContain('--');
    }
    expect(namespaceOf('temporal', 'system', id)).not.toBe('temporal-system');
  });

  it('tell, inside a workflow, whether a namespace can be an environment’s', () => {
    expect(namespaceMayBelongTo('acme-production-1f2e3d4c', 'acme', 'production')).toBe(true);
    expect(namespaceMayBelongTo('acme-production', 'acme', 'production')).toBe(true);
    expect(namespaceMayBelongTo('acme-staging-1f2e3d4c', 'acme', 'production')).toBe(false);
    expect(namespaceMayBelongTo('acme-production-1f2e3d4c-x', 'acme', 'production')).toBe(false);
    const long = namespaceOf('a'.repeat(20), 'b'.repeat(20), id);
    expect(namespaceMayBelongTo(long, 'a'.repeat(20), 'b'.repeat(20))).toBe(true);
  });

  it('give each environment its alias and a DNS-safe bucket of at most 63 characters', () => {
    expect(keyAliasOf('acme', 'production')).toBe('alias/tavio/acme/production');
    const longest = bucketOf('a'.repeat(20), 'b'.repeat(20), '12345678-aaaa-4bbb-8ccc-123456789abc');
    expect(longest).toMatch(/^[a-z0-9-]{3,63}$/);
    expect(longest.endsWith('-12345678')).toBe(true);
  });
});
