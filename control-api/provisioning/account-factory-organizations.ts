import type { IAMClient } from '@aws-sdk/client-iam';
import {
  CreateAccountCommand,
  DescribeCreateAccountStatusCommand,
  ListAccountsCommand,
  ListParentsCommand,
  MoveAccountCommand,
} from '@aws-sdk/client-organizations';
import type { OrganizationsClient } from '@aws-sdk/client-organizations';
import { AssumeRoleCommand } from '@aws-sdk/client-sts';
import type { STSClient } from '@aws-sdk/client-sts';
import { ACCOUNT_EMAIL_PLACEHOLDER } from '../../common/config.js';
import type { AwsCredentials, OrganizationsSettings } from '../../common/config.js';
import { PROVISIONER_ROLE, roleArn } from '../../common/names.js';
import {
  allowAccessRoleRemoval,
  deleteRole,
  ensureProvisionerRole,
  roleExists,
} from './account-bootstrap.js';
import { readAccountRecord, requestedAccount, unrequestedAccount } from './account-record.js';

/** AWS Organizations refused to create the account; `reason` is its FailureReason (EMAIL_ALREADY_EXISTS...). */
export class AccountCreationFailed extends Error {
  override readonly name = 'AccountCreationFailed';
  constructor(
    readonly reason: string,
    environmentId: string,
  ) {
    super(
      `AWS Organizations did not create the account of environment ${environmentId}: ${reason}; repeating the request asks again`,
    );
  }
}

/** The account is still being created after the configured wait; repeating the request waits on. */
export class AccountCreationPending extends Error {
  override readonly name = 'AccountCreationPending';
  constructor(requestId: string, seconds: number) {
    super(
      `account request ${requestId} is still in progress after ${seconds}s; repeating the request waits on`,
    );
  }
}

/** The provisioner role just made in an account still refuses the control plane after the wait. */
export class ProvisionerRoleUnverified extends Error {
  override readonly name = 'ProvisionerRoleUnverified';
  constructor(accountId: string, seconds: number) {
    super(
      `the provisioner role of account ${accountId} could not be assumed within ${seconds}s of its creation; the organization's access role is kept, and repeating the request tries again`,
    );
  }
}

/** What the factory needs to know of the environment whose account it makes. */
export interface AccountToMake {
  environmentId: string;
  organization: string;
  environment: string;
  awsRegion: string;
  /** The stored `aws_account_id` value (see account-record.ts). */
  record: string;
}

type Sends<C extends { send: unknown }> = Pick<C, 'send'>;

export interface OrganizationsFactoryDeps {
  settings: OrganizationsSettings;
  /** The principal the provisioner role trusts: the control plane's. */
  controlPlaneArn: string;
  /** Organizations, in the management account. */
  organizations: Sends<OrganizationsClient>;
  /** STS of an AWS region, as the management account's principal. */
  sts: (awsRegion: string) => Sends<STSClient>;
  /** IAM acting with the given credentials; destroyed after use. */
  iam: (awsRegion: string, credentials: AwsCredentials) => Sends<IAMClient> & { destroy(): void };
  pollIntervalMs?: number;
  /** How long a provisioner role just made may refuse to be assumed (IAM's propagation). */
  provisionerWaitMs?: number;
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
}

/** AWS's longest account name. */
const ACCOUNT_NAME_MAX = 50;

export const accountNameOf = (organization: string, environment: string): string =>
  `tavio-${organization}-${environment}`.slice(0, ACCOUNT_NAME_MAX);

export const accountEmailOf = (pattern: string, environmentId: string): string =>
  pattern.replaceAll(ACCOUNT_EMAIL_PLACEHOLDER, environmentId);

/** An answer of AWS that refuses the caller or knows no such role: the role is not (yet) usable. */
const isRefusal = (error: unknown): boolean => {
  const status = (error as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata
    ?.httpStatusCode;
  return status === 403 || status === 404;
};

/**
 * An account factory on AWS Organizations: for each environment, an account of its own in the
 * organization, created, waited for, placed in the configured OU, entered through the
 * organization's access role, and given the provisioner role Tavio uses from then on. Once the
 * provisioner role answers, the access role (an administrator the management account could assume
 * forever) is deleted: from then on the control plane holds the provisioner role's rights only,
 * which never read an object or decrypt. Every step is recorded or repeatable, so a retry resumes:
 * the request id is stored before the wait, the account id only once the access role is gone; a
 * retry tries the provisioner role first, since the access role may be gone already.
 */
export function createOrganizationsFactory(deps: OrganizationsFactoryDeps) {
  const { settings, organizations } = deps;
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const now = deps.now ?? Date.now;
  const pollIntervalMs = deps.pollIntervalMs ?? 5_000;
  const provisionerWaitMs = deps.provisionerWaitMs ?? 120_000;

  async function requestAccount(account: AccountToMake): Promise<string> {
    const answer = await organizations.send(
      new CreateAccountCommand({
        Email: accountEmailOf(settings.emailPattern, account.environmentId),
        AccountName: accountNameOf(account.organization, account.environment),
        RoleName: settings.accessRoleName,
        IamUserAccessToBilling: 'DENY',
        Tags: [
          { Key: 'tavio:organization', Value: account.organization },
          { Key: 'tavio:environment', Value: account.environment },
          { Key: 'tavio:environment-id', Value: account.environmentId },
        ],
      }),
    );
    const requestId = answer.CreateAccountStatus?.Id;
    if (!requestId) throw new Error('CreateAccount answered no request id');
    return requestId;
  }

  /** Polls the request until it ends or the configured wait is over. */
  async function outcomeOf(requestId: string): Promise<{ accountId: string } | { failure: string }> {
    const deadline = now() + settings.creationTimeoutSeconds * 1000;
    for (;;) {
      const { CreateAccountStatus: status } = await organizations.send(
        new DescribeCreateAccountStatusCommand({ CreateAccountRequestId: requestId }),
      );
      if (status?.State === 'SUCCEEDED' && status.AccountId) return { accountId: status.AccountId };
      if (status?.State === 'FAILED') return { failure: status.FailureReason ?? 'UNKNOWN' };
      if (now() + pollIntervalMs > deadline)
        throw new AccountCreationPending(requestId, settings.creationTimeoutSeconds);
      await sleep(pollIntervalMs);
    }
  }

  /**
   * The account an earlier attempt created when its request id was lost: the address holds the
   * environment's id, so an account with it can only be this environment's.
   */
  async function accountWithEmail(email: string): Promise<string | undefined> {
    let NextToken: string | undefined;
    do {
      const page = await organizations.send(new ListAccountsCommand({ NextToken }));
      const found = page.Accounts?.find((a) => a.Email?.toLowerCase() === email.toLowerCase());
      if (found?.Id) return found.Id;
      NextToken = page.NextToken;
    } while (NextToken);
    return undefined;
  }

  async function placeInParent(accountId: string): Promise<void> {
    if (!settings.parentOu) return;
    const { Parents } = await organizations.send(new ListParentsCommand({ ChildId: accountId }));
    const current = Parents?.[0]?.Id;
    if (!current) throw new Error(`account ${accountId} has no parent in the organization`);
    if (current === settings.parentOu) return;
    await organizations.send(
      new MoveAccountCommand({
        AccountId: accountId,
        SourceParentId: current,
        DestinationParentId: settings.parentOu,
      }),
    );
  }

  async function assume(accountId: string, role: string, awsRegion: string): Promise<AwsCredentials> {
    const { Credentials: c } = await deps.sts(awsRegion).send(
      new AssumeRoleCommand({
        RoleArn: roleArn(accountId, role),
        RoleSessionName: 'tavio-account-factory',
        DurationSeconds: 900,
      }),
    );
    if (!c?.AccessKeyId || !c.SecretAccessKey)
      throw new Error(`assuming ${role} in ${accountId} answered no credentials`);
    return {
      accessKeyId: c.AccessKeyId,
      secretAccessKey: c.SecretAccessKey,
      sessionToken: c.SessionToken || undefined,
    };
  }

  /** Makes the provisioner role through the organization's access role. */
  async function bootstrap(accountId: string, awsRegion: string): Promise<void> {
    const iam = deps.iam(awsRegion, await assume(accountId, settings.accessRoleName, awsRegion));
    try {
      await ensureProvisionerRole(iam, accountId, deps.controlPlaneArn);
      await allowAccessRoleRemoval(iam, accountId, settings.accessRoleName);
    } finally {
      iam.destroy();
    }
  }

  /**
   * IAM acting as the account's provisioner role, once that role answers a call of its own (it
   * lists the account's roles, which shows whether the access role is still there); undefined
   * while AWS refuses it.
   */
  async function asProvisioner(accountId: string, awsRegion: string) {
    let iam: ReturnType<OrganizationsFactoryDeps['iam']> | undefined;
    try {
      iam = deps.iam(awsRegion, await assume(accountId, PROVISIONER_ROLE, awsRegion));
      return { iam, accessRolePresent: await roleExists(iam, settings.accessRoleName) };
    } catch (error) {
      iam?.destroy();
      if (isRefusal(error)) return undefined;
      throw error;
    }
  }

  /** The provisioner role just made, assumed once to prove it works; IAM may take a while to propagate it. */
  async function verifiedProvisioner(accountId: string, awsRegion: string) {
    const deadline = now() + provisionerWaitMs;
    for (;;) {
      const session = await asProvisioner(accountId, awsRegion);
      if (session) return session;
      if (now() + pollIntervalMs > deadline)
        throw new ProvisionerRoleUnverified(accountId, Math.round(provisionerWaitMs / 1000));
      await sleep(pollIntervalMs);
    }
  }

  /**
   * The provisioner role in place and proven, and the access role gone. A retry may find the
   * provisioner role made and the access role already deleted, so it tries the provisioner first.
   */
  async function handOver(accountId: string, awsRegion: string, resumed: boolean): Promise<void> {
    // Whatever keeps the provisioner role from answering here (not made yet, refused, a service
    // error), the access role is the way in; where that is gone too, its refusal is the error.
    let session = resumed ? await asProvisioner(accountId, awsRegion).catch(() => undefined) : undefined;
    if (!session) {
      await bootstrap(accountId, awsRegion);
      session = await verifiedProvisioner(accountId, awsRegion);
    }
    try {
      if (session.accessRolePresent) await deleteRole(session.iam, settings.accessRoleName);
    } finally {
      session.iam.destroy();
    }
  }

  return {
    /**
     * The environment's account, made ready for Tavio; `record` stores each stage in the
     * environment's row before the next begins.
     */
    async ensureAccount(account: AccountToMake, record: (value: string) => Promise<void>): Promise<string> {
      const stored = readAccountRecord(account.record);
      if (stored.state === 'ready') return stored.accountId;
      let requestId: string;
      if (stored.state === 'requested') requestId = stored.requestId;
      else {
        requestId = await requestAccount(account);
        await record(requestedAccount(requestId));
      }
      const outcome = await outcomeOf(requestId);
      let accountId: string;
      // Made by this attempt: it has no provisioner role yet. Else an earlier attempt may have made it.
      const resumed = stored.state === 'requested' || !('accountId' in outcome);
      if ('accountId' in outcome) accountId = outcome.accountId;
      else {
        const adopted =
          outcome.failure === 'EMAIL_ALREADY_EXISTS'
            ? await accountWithEmail(accountEmailOf(settings.emailPattern, account.environmentId))
            : undefined;
        if (!adopted) {
          await record(unrequestedAccount());
          throw new AccountCreationFailed(outcome.failure, account.environmentId);
        }
        accountId = adopted;
      }
      await placeInParent(accountId);
      await handOver(accountId, account.awsRegion, resumed);
      await record(accountId);
      return accountId;
    },
  };
}
export type OrganizationsFactory = ReturnType<typeof createOrganizationsFactory>;
