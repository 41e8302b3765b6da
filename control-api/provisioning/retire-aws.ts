import { DeleteRoleCommand, DeleteRolePolicyCommand } from '@aws-sdk/client-iam';
import { DeleteAliasCommand, DisableKeyCommand, ScheduleKeyDeletionCommand } from '@aws-sdk/client-kms';
import { DeleteBucketCommand, DeleteObjectsCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { DATAPLANE_ROLE } from '../../common/names.js';
import type { AccountClients } from './account-access.js';
import { tolerating } from '../../common/aws-errors.js';

/** Deletes every object of the bucket, then the bucket; answers how many objects it deleted. */
export async function destroyBucket(aws: AccountClients, bucket: string): Promise<number> {
  let deleted = 0;
  for (;;) {
    const page = await tolerating(
      () => aws.s3.send(new ListObjectsV2Command({ Bucket: bucket, MaxKeys: 1000 })),
      ['NoSuchBucket'],
    );
    const keys = (page?.Contents ?? []).flatMap((object) => (object.Key ? [{ Key: object.Key }] : []));
    if (keys.length === 0) break;
    await aws.s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys, Quiet: true } }));
    deleted += keys.length;
  }
  await tolerating(() => aws.s3.send(new DeleteBucketCommand({ Bucket: bucket })), ['NoSuchBucket']);
  return deleted;
}

/** Disables the key at once and schedules its deletion after the shortest waiting period AWS allows. */
export async function destroyKey(aws: AccountClients, keyArn: string, alias: string): Promise<string | null> {
  // The key id, not the ARN: both name the key on AWS, and the local KMS resolves only the id here.
  const keyId = keyArn.slice(keyArn.lastIndexOf('/') + 1);
  await tolerating(() => aws.kms.send(new DeleteAliasCommand({ AliasName: alias })), ['NotFoundException']);
  await tolerating(
    () => aws.kms.send(new DisableKeyCommand({ KeyId: keyId })),
    ['NotFoundException', 'KMSInvalidStateException'],
  );
  const scheduled = await tolerating(
    () => aws.kms.send(new ScheduleKeyDeletionCommand({ KeyId: keyId, PendingWindowInDays: 7 })),
    ['NotFoundException', 'KMSInvalidStateException'],
  );
  return scheduled?.DeletionDate?.toISOString() ?? null;
}

export async function destroyDataplaneRole(aws: AccountClients): Promise<void> {
  await tolerating(
    () =>
      aws.iam.send(new DeleteRolePolicyCommand({ RoleName: DATAPLANE_ROLE, PolicyName: 'environment-data' })),
    ['NoSuchEntityException'],
  );
  await tolerating(
    () => aws.iam.send(new DeleteRoleCommand({ RoleName: DATAPLANE_ROLE })),
    ['NoSuchEntityException'],
  );
}
