/**
 * IAM documents of an environment's account. Each environment has an account of its own, holding
 * one bucket and one key; the account boundary is the first wall, these documents the second.
 */

const trustOf = (principalArn: string) => ({
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Principal: { AWS: principalArn }, Action: 'sts:AssumeRole' }],
});

/** The data-plane role may be assumed by its region's worker host only. */
export const dataplaneTrustPolicy = trustOf;

/** The provisioner role may be assumed by the control plane only. */
export const provisionerTrustPolicy = trustOf;

/** What an environment's worker may do: read and write its bucket's objects, and use its key for its own data. */
export function dataplanePermissions(scope: {
  bucket: string;
  organization: string;
  environment: string;
  region: string;
}) {
  return {
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'OwnBucket',
        Effect: 'Allow',
        Action: ['s3:ListBucket'],
        Resource: [`arn:aws:s3:::${scope.bucket}`],
      },
      {
        Sid: 'OwnObjects',
        Effect: 'Allow',
        Action: ['s3:GetObject', 's3:PutObject', 's3:DeleteObject'],
        Resource: [`arn:aws:s3:::${scope.bucket}/*`],
      },
      {
        // The account holds this environment's key only. KMS authorizes key use against `*` in the
        // local service, so the key is named by the account, and its use by the encryption context.
        Sid: 'OwnKey',
        Effect: 'Allow',
        Action: ['kms:Decrypt', 'kms:GenerateDataKey'],
        Resource: ['*'],
        Condition: {
          StringEquals: {
            'kms:EncryptionContext:organization': scope.organization,
            'kms:EncryptionContext:environment': scope.environment,
            'kms:EncryptionContext:region': scope.region,
          },
        },
      },
    ],
  };
}

/**
 * What the control plane may do in an environment's account: build and tear down its bucket, key
 * and data-plane role, and write sealed credentials. It may never read credentials back, decrypt
 * anything, or change its own role or any role's trust.
 */
export function provisionerPermissions(accountId: string, provisionerRoleArn: string) {
  return {
    Version: '2012-10-17',
    Statement: [
      { Sid: 'ManageEnvironment', Effect: 'Allow', Action: ['s3:*', 'kms:*', 'iam:*'], Resource: ['*'] },
      {
        Sid: 'NeverReadCredentials',
        Effect: 'Deny',
        Action: ['s3:GetObject', 's3:GetObjectVersion'],
        Resource: ['arn:aws:s3:::*/credentials/*'],
      },
      {
        Sid: 'NeverDecrypt',
        Effect: 'Deny',
        Action: ['kms:Decrypt', 'kms:ReEncryptFrom', 'kms:ReEncryptTo'],
        Resource: ['*'],
      },
      { Sid: 'NeverChangeItself', Effect: 'Deny', Action: ['iam:*'], Resource: [provisionerRoleArn] },
      {
        Sid: 'NeverRewriteTrust',
        Effect: 'Deny',
        Action: ['iam:UpdateAssumeRolePolicy'],
        Resource: [`arn:aws:iam::${accountId}:role/*`],
      },
    ],
  };
}
