import { DecryptCommand } from '@aws-sdk/client-kms';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { ApplicationFailure } from '@temporalio/common';
import { credentialsContext, credentialsObjectKey } from '../common/names.js';
import type { SealedConnection } from '../common/names.js';
import { FailureType } from '../common/failures.js';
import type { EnvironmentAws } from './aws.js';

export interface CredentialOpener {
  /**
   * Opens a connection's sealed record, at the moment an activity needs it: the host the
   * connection may reach and its secrets. Never log the result.
   */
  open(connectionId: string): Promise<SealedConnection>;
}

function errorName(error: unknown): string {
  return error instanceof Error ? error.name : 'UnknownError';
}

export function createCredentialOpener(options: {
  aws: EnvironmentAws;
  bucket: string;
  keyArn: string;
  organization: string;
  environment: string;
}): CredentialOpener {
  return {
    async open(connectionId) {
      let sealed: Uint8Array;
      try {
        const object = await options.aws.s3.send(
          new GetObjectCommand({ Bucket: options.bucket, Key: credentialsObjectKey(connectionId) }),
        );
        sealed = await object.Body!.transformToByteArray();
      } catch (error) {
        if (errorName(error) === 'NoSuchKey') {
          throw ApplicationFailure.nonRetryable(
            `no credentials are stored for connection ${connectionId}`,
            FailureType.CredentialsUnavailable,
          );
        }
        throw error;
      }
      const plain = await options.aws.kms.send(
        new DecryptCommand({
          CiphertextBlob: sealed,
          KeyId: options.keyArn,
          EncryptionContext: credentialsContext(options.organization, options.environment, connectionId),
        }),
      );
      return JSON.parse(Buffer.from(plain.Plaintext!).toString('utf8')) as SealedConnection;
    },
  };
}
