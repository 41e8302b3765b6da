import { IAMClient } from '@aws-sdk/client-iam';
import { KMS } from '@aws-sdk/client-kms';
import { S3Client } from '@aws-sdk/client-s3';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { PROVISIONER_ROLE, roleArn } from '../../common/names.js';
import { regionalClients } from '../regional-clients.js';

export interface AccountClients {
  s3: S3Client;
  kms: KMS;
  iam: IAMClient;
}

function destroyClients(clients: AccountClients): void {
  clients.s3.destroy();
  clients.kms.destroy();
  clients.iam.destroy();
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
  const stsClients = regionalClients(
    (awsRegion) =>
      new STSClient({
        region: awsRegion,
        endpoint: options.endpointFor(awsRegion),
        credentials: options.credentials,
      }),
  );
  const cache = new Map<string, Cached>();

  const sts = (awsRegion: string): STSClient => stsClients.of(awsRegion);

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
      if (hit) destroyClients(hit.clients);
      cache.set(cacheKey, { clients, expiresAt: Date.now() + 50 * 60 * 1000 });
      return clients;
    },
    destroy(): void {
      for (const { clients } of cache.values()) destroyClients(clients);
      stsClients.destroyAll();
    },
  };
}
export type AccountAccess = ReturnType<typeof createAccountAccess>;
