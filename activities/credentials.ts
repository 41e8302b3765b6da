import { ApplicationFailure } from '@temporalio/common';
import type { ConnectionRef, SftpCredentials } from '../common/connections.js';
import type { SealedConnection } from '../common/names.js';
import { FailureType } from '../common/failures.js';
import { createSealedStore, SealedObjectError } from '../common/sealed-objects.js';
import type { SealScope } from '../common/sealed-objects.js';
import type { EnvironmentAws } from './aws.js';
import { gatewayFailure } from './egress.js';

export interface CredentialOpener {
  /**
   * Opens a connection's sealed record, at the moment an activity needs it: the host the
   * connection may reach and its secrets. Never log the result.
   */
  open(connectionId: string): Promise<SealedConnection>;
}

interface VaultLocation extends SealScope {
  aws: EnvironmentAws;
  bucket: string;
  /** The gateway the S3 and KMS clients go through, named in failures. */
  gateway: string;
}

function failureOf(vault: VaultLocation, connectionId: string, error: unknown): unknown {
  if (error instanceof SealedObjectError) return ApplicationFailure.nonRetryable(error.message, error.type);
  if (error instanceof Error && error.name === 'NoSuchKey') {
    return ApplicationFailure.nonRetryable(
      `no credentials are stored for connection ${connectionId}`,
      FailureType.CredentialsUnavailable,
    );
  }
  return gatewayFailure(vault.gateway, error);
}

export function createCredentialOpener(vault: VaultLocation): CredentialOpener {
  const store = createSealedStore({
    s3: vault.aws.s3,
    kms: vault.aws.kms,
    bucket: vault.bucket,
    scope: vault,
  });
  return {
    open: async (connectionId) => {
      try {
        const plaintext = await store.get('credentials', connectionId);
        return JSON.parse(plaintext.toString('utf8')) as SealedConnection;
      } catch (error) {
        throw failureOf(vault, connectionId, error);
      }
    },
  };
}

/** A run's URL must point at the host sealed with its connection; anything else is refused. */
export function assertSealedHost(role: string, ref: ConnectionRef, sealed: SealedConnection): void {
  const host = new URL(ref.baseUrl).host;
  if (host !== sealed.host) {
    throw ApplicationFailure.nonRetryable(
      `egress to ${host} refused: connection ${role} ${ref.id} is recorded for another host`,
      FailureType.EgressRefused,
    );
  }
}

/** An sftp connection's sealed credentials, opened, once its run's URL is checked against the sealed host. */
export async function openSftpCredentials(
  opener: CredentialOpener,
  role: string,
  ref: ConnectionRef,
): Promise<SftpCredentials> {
  const sealed = await opener.open(ref.id);
  assertSealedHost(role, ref, sealed);
  return sealed.secrets as unknown as SftpCredentials;
}
