/**
 * IAM documents of an environment's account. Each environment has an account of its own, holding
 * one bucket and one key; the account boundary is the first wall, these documents the second.
 */

export interface PolicyStatement {
  Sid: string;
  Effect: 'Allow' | 'Deny';
  Action: string[];
  Resource: string[];
  Condition?: Record<string, Record<string, string>>;
}
export interface PolicyDocument {
  Version: '2012-10-17';
  Statement: PolicyStatement[];
}

const trustOf = (principalArn: string) => ({
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Principal: { AWS: principalArn }, Action: 'sts:AssumeRole' }],
});

/** The data-plane role may be assumed by its region's worker host only. */
export const dataplaneTrustPolicy = trustOf;

/** The provisioner role may be assumed by the control plane only. */
export const provisionerTrustPolicy = trustOf;

/** What an environment's worker may do: use its bucket's objects and its key, for its own data only. */
export function dataplanePermissions(scope: {
  bucket: string;
  organization: string;
  environment: string;
  region: string;
  awsRegion: string;
}): PolicyDocument {
  const bucketArn = `arn:aws:s3:::${scope.bucket}`;
  return {
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'OwnBucket',
        Effect: 'Allow',
        Action: ['s3:ListBucket', 's3:ListBucketMultipartUploads'],
        Resource: [bucketArn],
      },
      {
        Sid: 'OwnObjects',
        Effect: 'Allow',
        Action: ['s3:GetObject', 's3:PutObject', 's3:DeleteObject'],
        Resource: [`${bucketArn}/*`],
      },
      {
        // A buffered file's retry finds, and a failed run gives up, its unfinished upload; the
        // same for a quarantined file.
        Sid: 'OwnBufferedUploads',
        Effect: 'Allow',
        Action: ['s3:ListMultipartUploadParts', 's3:AbortMultipartUpload'],
        Resource: [`${bucketArn}/tmp/*`, `${bucketArn}/quarantine/*`],
      },
      {
        // Credentials are the control plane's to write: a worker cannot replace or remove them.
        Sid: 'CredentialsAreReadOnly',
        Effect: 'Deny',
        Action: ['s3:PutObject', 's3:DeleteObject'],
        Resource: [`${bucketArn}/credentials/*`],
      },
      {
        // The account holds this environment's key only. KMS authorizes key use against `*` in the
        // local service, so the key is named by the account, and its use by the encryption context.
        Sid: 'OwnKeyForSealedObjects',
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
      {
        // The bucket's SSE-KMS default: S3 asks KMS on the worker's behalf, with its own context.
        Sid: 'OwnKeyForBucketEncryption',
        Effect: 'Allow',
        Action: ['kms:Decrypt', 'kms:GenerateDataKey'],
        Resource: ['*'],
        Condition: {
          StringEquals: {
            'kms:ViaService': `s3.${scope.awsRegion}.amazonaws.com`,
            'kms:EncryptionContext:aws:s3:arn': bucketArn,
          },
        },
      },
    ],
  };
}

/**
 * What the control plane may do in an environment's account: build and tear down its bucket, key
 * and data-plane role, and write sealed credentials. No user, access key, grant or key policy; no
 * object read, no decrypt; no change to its own role or to any role's trust.
 */
export function provisionerPermissions(accountId: string, provisionerRoleArn: string): PolicyDocument {
  return {
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'Buckets',
        Effect: 'Allow',
        Action: [
          's3:CreateBucket',
          's3:DeleteBucket',
          's3:ListBucket',
          's3:GetBucketLocation',
          's3:PutEncryptionConfiguration',
          's3:GetEncryptionConfiguration',
          's3:PutBucketPublicAccessBlock',
          's3:GetBucketPublicAccessBlock',
          's3:PutBucketTagging',
          's3:PutLifecycleConfiguration',
          's3:GetLifecycleConfiguration',
          's3:DeleteObject',
        ],
        Resource: ['arn:aws:s3:::*'],
      },
      {
        Sid: 'WriteCredentials',
        Effect: 'Allow',
        Action: ['s3:PutObject'],
        Resource: ['arn:aws:s3:::*/credentials/*'],
      },
      {
        Sid: 'Key',
        Effect: 'Allow',
        Action: [
          'kms:CreateKey',
          'kms:CreateAlias',
          'kms:DeleteAlias',
          'kms:DescribeKey',
          'kms:TagResource',
          'kms:DisableKey',
          'kms:ScheduleKeyDeletion',
          'kms:GenerateDataKey',
        ],
        Resource: ['*'],
      },
      {
        // The local service authorizes CreateRole against `*`; on AWS this could name the role path.
        Sid: 'DataplaneRole',
        Effect: 'Allow',
        Action: [
          'iam:CreateRole',
          'iam:GetRole',
          'iam:TagRole',
          'iam:PutRolePolicy',
          'iam:DeleteRolePolicy',
          'iam:DeleteRole',
        ],
        Resource: ['*'],
      },
      {
        Sid: 'NeverReadObjects',
        Effect: 'Deny',
        Action: ['s3:GetObject', 's3:GetObjectVersion'],
        Resource: ['arn:aws:s3:::*/*'],
      },
      {
        Sid: 'NeverDecrypt',
        Effect: 'Deny',
        Action: [
          'kms:Decrypt',
          'kms:ReEncryptFrom',
          'kms:ReEncryptTo',
          'kms:CreateGrant',
          'kms:PutKeyPolicy',
        ],
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
