import { IAMClient } from '@aws-sdk/client-iam';
import { KMS } from '@aws-sdk/client-kms';
import { S3Client } from '@aws-sdk/client-s3';
import { OrganizationsClient } from '@aws-sdk/client-organizations';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import type { AwsCredentials, OrganizationsSettings } from '../../common/config.js';
import { controlPlaneArn, PROVISIONER_ROLE, roleArn } from '../../common/names.js';
import { regionalClients } from '../regional-clients.js';
import { createOrganizationsFactory } from './account-factory-organizations.js';
import type { AccountToMake } from './account-factory-organizations.js';
import { readAccountRecord, readyAccountId } from './account-record.js';

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
  /** The process's own credentials; without them, the SDK's default chain. */
  credentials?: AwsCredentials;
  /** With these settings, AWS Organizations creates each environment's account; without, accounts exist already. */
  organizations?: OrganizationsSettings;
  /** The control account: its control plane is the principal provisioner roles trust. */
  controlAccountId: string;
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
  const settings = options.organizations;
  const organizationsClient = settings
    ? new OrganizationsClient({
        region: settings.region,
        endpoint: settings.endpoint,
        credentials: options.credentials,
      })
    : undefined;
  const factory =
    settings && organizationsClient
      ? createOrganizationsFactory({
          settings,
          controlPlaneArn: controlPlaneArn(options.controlAccountId),
          organizations: organizationsClient,
          sts,
          iam: (awsRegion, credentials) =>
            new IAMClient({ region: awsRegion, endpoint: options.endpointFor(awsRegion), credentials }),
        })
      : undefined;

  return {
    /**
     * The environment's account id, once its account is ready for Tavio: made by the account
     * factory where the row records none yet (each stage stored through `record`).
     */
    async ensureAccount(account: AccountToMake, record: (value: string) => Promise<void>): Promise<string> {
      const stored = readAccountRecord(account.record);
      if (stored.state === 'ready') return stored.accountId;
      if (!factory) throw new AccountFactoryMissing(account.environmentId);
      return factory.ensureAccount(account, record);
    },
    async clients(accountId: string, awsRegion: string): Promise<AccountClients> {
      if (!readyAccountId(accountId))
        throw new Error(`no account is ready yet (${accountId}): the environment's provisioning makes it`);
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
      organizationsClient?.destroy();
    },
  };
}
export type AccountAccess = ReturnType<typeof createAccountAccess>;

/** An environment whose account is still to be made, with no account factory configured to make it. */
export class AccountFactoryMissing extends Error {
  override readonly name = 'AccountFactoryMissing';
  constructor(environmentId: string) {
    super(
      `environment ${environmentId} has no account yet and TAVIO_ACCOUNT_FACTORY is not organizations; set it (README "AWS accounts") and repeat the request`,
    );
  }
}
