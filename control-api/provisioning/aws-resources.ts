import { CreateRoleCommand, PutRolePolicyCommand } from '@aws-sdk/client-iam';
import { CreateAliasCommand, CreateKeyCommand, DescribeKeyCommand } from '@aws-sdk/client-kms';
import {
  CreateBucketCommand,
  PutBucketEncryptionCommand,
  PutBucketTaggingCommand,
  PutPublicAccessBlockCommand,
} from '@aws-sdk/client-s3';
import type { BucketLocationConstraint } from '@aws-sdk/client-s3';
import { DATAPLANE_ROLE, dataplaneRoleArn, dataplaneRolePath, keyAliasOf } from '../../common/names.js';
import type { AccountClients } from './account-access.js';
import { tolerating } from '../../common/aws-errors.js';
import { dataplanePermissions, dataplaneTrustPolicy } from './policies.js';

export interface EnvironmentIdentity {
  organization: string;
  environment: string;
  /** Tavio's region code (us, ca, eu). */
  region: string;
  awsRegion: string;
  accountId: string;
}

const tags = (id: EnvironmentIdentity) => [
  { TagKey: 'tavio:organization', TagValue: id.organization },
  { TagKey: 'tavio:environment', TagValue: id.environment },
];

/** The environment's KMS key in its region, found by alias when a previous attempt created it. */
export async function ensureKey(aws: AccountClients, id: EnvironmentIdentity): Promise<string> {
  const alias = keyAliasOf(id.organization, id.environment);
  const existing = await tolerating(
    () => aws.kms.send(new DescribeKeyCommand({ KeyId: alias })),
    ['NotFoundException'],
  );
  if (existing) return existing.KeyMetadata!.Arn!;
  const created = await aws.kms.send(
    new CreateKeyCommand({
      Description: `Tavio ${id.organization}/${id.environment}`,
      KeyUsage: 'ENCRYPT_DECRYPT',
      Tags: tags(id),
    }),
  );
  await aws.kms.send(new CreateAliasCommand({ AliasName: alias, TargetKeyId: created.KeyMetadata!.KeyId! }));
  return created.KeyMetadata!.Arn!;
}

/** A private bucket in the environment's region, encrypted by default under the environment's key. */
export async function ensureBucket(
  aws: AccountClients,
  id: EnvironmentIdentity,
  bucket: string,
  keyArn: string,
): Promise<void> {
  await tolerating(
    () =>
      aws.s3.send(
        new CreateBucketCommand({
          Bucket: bucket,
          ...(id.awsRegion === 'us-east-1'
            ? {}
            : {
                CreateBucketConfiguration: { LocationConstraint: id.awsRegion as BucketLocationConstraint },
              }),
        }),
      ),
    ['BucketAlreadyOwnedByYou'],
  );
  await aws.s3.send(
    new PutPublicAccessBlockCommand({
      Bucket: bucket,
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        IgnorePublicAcls: true,
        BlockPublicPolicy: true,
        RestrictPublicBuckets: true,
      },
    }),
  );
  await aws.s3.send(
    new PutBucketEncryptionCommand({
      Bucket: bucket,
      ServerSideEncryptionConfiguration: {
        Rules: [
          {
            ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: keyArn },
            BucketKeyEnabled: true,
          },
        ],
      },
    }),
  );
  await aws.s3.send(
    new PutBucketTaggingCommand({
      Bucket: bucket,
      Tagging: { TagSet: tags(id).map((t) => ({ Key: t.TagKey, Value: t.TagValue })) },
    }),
  );
}

/** The data-plane role that the region's worker host assumes for this environment's worker. */
export async function ensureDataplaneRole(
  aws: AccountClients,
  id: EnvironmentIdentity,
  bucket: string,
  /** The gateway whose host alone may assume the role: it names the role's path and the trusted principal. */
  gateway: string,
  hostPrincipalArn: string,
): Promise<string> {
  await tolerating(
    () =>
      aws.iam.send(
        new CreateRoleCommand({
          RoleName: DATAPLANE_ROLE,
          Path: dataplaneRolePath(gateway),
          AssumeRolePolicyDocument: JSON.stringify(dataplaneTrustPolicy(hostPrincipalArn)),
          Tags: tags(id).map((t) => ({ Key: t.TagKey, Value: t.TagValue })),
        }),
      ),
    ['EntityAlreadyExistsException'],
  );
  await aws.iam.send(
    new PutRolePolicyCommand({
      RoleName: DATAPLANE_ROLE,
      PolicyName: 'environment-data',
      PolicyDocument: JSON.stringify(
        dataplanePermissions({
          bucket,
          organization: id.organization,
          environment: id.environment,
          region: id.region,
          awsRegion: id.awsRegion,
        }),
      ),
    }),
  );
  return dataplaneRoleArn(id.accountId, gateway);
}
