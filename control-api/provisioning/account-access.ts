import { IAMClient } from '@aws-sdk/client-iam';
import { KMS } from '@aws-sdk/client-kms';
import { S3Client } from '@aws-sdk/client-s3';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { PROVISIONER_ROLE, roleArn } from '../../common/names.js';

export interface AccountClients {
  s3: S3Client;
  kms: KMS;
  iam: IAMClient;
}

interface Cached {
  clients: AccountClients;
  expiresAt: number;
}

/**
 * The control plane's way into an environment's own AWS account: it assumes that account's
 * provisioner role and gets S3, KMS and IAM clients in the environment's region. Each environment
 * has an account of its own, so the storage and key services themselves keep environments apart.
 */
export function createAccountAccess(options: {
  /** The S3/KMS/IAM/STS endpoint of an AWS region; undefined on AWS itself. */
  endpointFor: (awsRegion: string) => string | undefined;
  credentials?: { accessKeyId: string; secretAccessKey: string };
}) {
  const stsByRegion = new Map<string, STSClient>();
  const cache = new Map<string, Cached>();

  function sts(awsRegion: string): STSClient {
    let client = stsByRegion.get(awsRegion);
    if (!client) {
      client = new STSClient({
        region: awsRegion,
        endpoint: options.endpointFor(awsRegion),
        credentials: options.credentials,
      });
      stsByRegion.set(awsRegion, client);
    }
    return client;
  }

  return {
    async clients(accountId: string, awsRegion: string): Promise<AccountClients> {
      const cacheKey = `${accountId}/${awsRegion}`;
      const hit = cache.get(cacheKey);
      if (hit && hit.expiresAt > Date.now()) return hit.clients;
      const answer = await sts(awsRegion).send(
        new AssumeRoleCommand({
          RoleArn: roleArn(accountId, PROVISIONER_ROLE),
          RoleSessionName: 'tavio-control-plane',
          DurationSeconds: 3600,
        }),
      );
      const c = answer.Credentials!;
      const credentials = {
        accessKeyId: c.AccessKeyId!,
        secretAccessKey: c.SecretAccessKey!,
        sessionToken: c.SessionToken!,
      };
      const endpoint = options.endpointFor(awsRegion);
      const common = { region: awsRegion, endpoint, credentials };
      const clients = {
        s3: new S3Client({ ...common, forcePathStyle: endpoint !== undefined }),
        kms: new KMS(common),
        iam: new IAMClient(common),
      };
      hit?.clients.s3.destroy();
      cache.set(cacheKey, { clients, expiresAt: Date.now() + 50 * 60 * 1000 });
      return clients;
    },
    destroy(): void {
      for (const { clients } of cache.values()) {
        clients.s3.destroy();
        clients.kms.destroy();
        clients.iam.destroy();
      }
      for (const client of stsByRegion.values()) client.destroy();
    },
  };
}
export type AccountAccess = ReturnType<typeof createAccountAccess>;
