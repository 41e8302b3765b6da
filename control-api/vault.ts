import { EncryptCommand } from '@aws-sdk/client-kms';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { credentialsContext, credentialsObjectKey } from '../common/names.js';
import type { SealedConnection } from '../common/names.js';
import type { AccountAccess } from './provisioning/account-access.js';

export interface SealTarget {
  organization: string;
  environment: string;
  awsAccountId: string;
  awsRegion: string;
  bucket: string;
  keyArn: string;
}

/**
 * Writes a connection's credentials for its environment: encrypted under the environment's key,
 * bound by an encryption context to organization, environment and connection, stored in the
 * environment's bucket. The control plane writes; it has no code path that reads them back.
 */
export async function sealCredentials(
  accounts: AccountAccess,
  target: SealTarget,
  connectionId: string,
  sealedConnection: SealedConnection,
): Promise<string> {
  const aws = await accounts.clients(target.awsAccountId, target.awsRegion);
  const sealed = await aws.kms.send(
    new EncryptCommand({
      KeyId: target.keyArn,
      Plaintext: Buffer.from(JSON.stringify(sealedConnection), 'utf8'),
      EncryptionContext: credentialsContext(target.organization, target.environment, connectionId),
    }),
  );
  const key = credentialsObjectKey(connectionId);
  await aws.s3.send(
    new PutObjectCommand({
      Bucket: target.bucket,
      Key: key,
      Body: sealed.CiphertextBlob,
      ServerSideEncryption: 'aws:kms',
      SSEKMSKeyId: target.keyArn,
    }),
  );
  return key;
}
