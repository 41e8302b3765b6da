import { DeleteRoleCommand, DeleteRolePolicyCommand } from '@aws-sdk/client-iam';
import { DeleteAliasCommand, DisableKeyCommand, ScheduleKeyDeletionCommand } from '@aws-sdk/client-kms';
import { DeleteBucketCommand, DeleteObjectsCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { DATAPLANE_ROLE } from '../../common/names.js';
import { OBJECT_PURPOSES } from '../../common/sealed-objects.js';
import type { AccountClients } from './account-access.js';
import { countDeleted, emptySweep } from '../../common/retention.js';
import type { PrefixSweep } from '../../common/retention.js';
import { tolerating } from '../../common/aws-errors.js';

/**
 * Deletes every object of the bucket, then the bucket; counts in `prefixes`, per prefix, what the
 * storage service reported deleted (counts, bytes, times; never a name), so that what was deleted
 * before a failure is still known. Objects outside Tavio's purposes count under `other/`.
 */
export async function destroyBucket(
  aws: AccountClients,
  bucket: string,
  prefixes: Map<string, PrefixSweep>,
): Promise<void> {
  const at = new Date().toISOString();
  const tallyOf = (key: string) => {
    const purpose = key.split('/')[0]!;
    const prefix = (OBJECT_PURPOSES as readonly string[]).includes(purpose) ? `${purpose}/` : 'other/';
    let tally = prefixes.get(prefix);
    if (!tally) {
      tally = emptySweep(prefix, at);
      prefixes.set(prefix, tally);
    }
    return tally;
  };
  for (;;) {
    const page = await tolerating(
      () => aws.s3.send(new ListObjectsV2Command({ Bucket: bucket, MaxKeys: 1000 })),
      ['NoSuchBucket'],
    );
    const listed = new Map(
      (page?.Contents ?? []).flatMap((object) => (object.Key ? [[object.Key, object]] : [])),
    );
    if (listed.size === 0) break;
    const answer = await aws.s3.send(
      new DeleteObjectsCommand({
        Bucket: bucket,
        Delete: { Objects: [...listed.keys()].map((Key) => ({ Key })), Quiet: false },
      }),
    );
    for (const deleted of answer.Deleted ?? []) {
      const object = deleted.Key ? listed.get(deleted.Key) : undefined;
      if (object) countDeleted(tallyOf(object.Key!), object);
    }
    if ((answer.Errors ?? []).length > 0)
      throw new Error(`${answer.Errors!.length} objects of bucket ${bucket} were not deleted`);
  }
  await tolerating(() => aws.s3.send(new DeleteBucketCommand({ Bucket: bucket })), ['NoSuchBucket']);
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
