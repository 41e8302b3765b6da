import { DecryptCommand } from '@aws-sdk/client-kms';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { ApplicationFailure } from '@temporalio/common';
import { credentialsContext, credentialsObjectKey } from '../common/names.js';
import type { SealedConnection } from '../common/names.js';
import { FailureType } from '../common/failures.js';
import type { EnvironmentAws } from './aws.js';
import { gatewayFailure } from './egress.js';

export interface CredentialOpener {
  /**
   * Opens a connection's sealed record, at the moment an activity needs it: the host the
   * connection may reach and its secrets. Never log the result.
   */
  open(connectionId: string): Promise<SealedConnection>;
}

interface VaultLocation {
  aws: EnvironmentAws;
  bucket: string;
  keyArn: string;
  organization: string;
  environment: string;
  /** The gateway the S3 and KMS clients go through, named in failures. */
  gateway: string;
}

function errorName(error: unknown): string {
  return error instanceof Error ? error.name : 'UnknownError';
}

async function readSealed(vault: VaultLocation, connectionId: string): Promise<Uint8Array> {
  try {
    const object = await vault.aws.s3.send(
      new GetObjectCommand({ Bucket: vault.bucket, Key: credentialsObjectKey(connectionId) }),
    );
    return await object.Body!.transformToByteArray();
  } catch (error) {
    if (errorName(error) === 'NoSuchKey') {
      throw ApplicationFailure.nonRetryable(
        `no credentials are stored for connection ${connectionId}`,
        FailureType.CredentialsUnavailable,
      );
    }
    throw error;
  }
}

async function openSealed(vault: VaultLocation, connectionId: string): Promise<SealedConnection> {
  const plain = await vault.aws.kms.send(
    new DecryptCommand({
      CiphertextBlob: await readSealed(vault, connectionId),
      KeyId: vault.keyArn,
      EncryptionContext: credentialsContext(vault.organization, vault.environment, connectionId),
    }),
  );
  return JSON.parse(Buffer.from(plain.Plaintext!).toString('utf8')) as SealedConnection;
}

export function createCredentialOpener(vault: VaultLocation): CredentialOpener {
  return {
    open: (connectionId) =>
      openSealed(vault, connectionId).catch((error: unknown) => {
        throw gatewayFailure(vault.gateway, error);
      }),
  };
}
