import {
  CreateRoleCommand,
  DeleteRoleCommand,
  DeleteRolePolicyCommand,
  DetachRolePolicyCommand,
  ListAttachedRolePoliciesCommand,
  ListRolePoliciesCommand,
  ListRolesCommand,
  PutRolePolicyCommand,
} from '@aws-sdk/client-iam';
import {
  CreateAccountCommand,
  DescribeCreateAccountStatusCommand,
  ListAccountsCommand,
  ListParentsCommand,
  MoveAccountCommand,
} from '@aws-sdk/client-organizations';
import { AssumeRoleCommand } from '@aws-sdk/client-sts';
import { describe, expect, it } from 'vitest';
import type { OrganizationsSettings } from '../../common/config.js';
import {
  AccountCreationFailed,
  AccountCreationPending,
  accountNameOf,
  createOrganizationsFactory,
  ProvisionerRoleUnverified,
} from '../../control-api/provisioning/account-factory-organizations.js';
import type { AccountToMake } from '../../control-api/provisioning/account-factory-organizations.js';
import {
  readAccountRecord,
  requestedAccount,
  unrequestedAccount,
} from '../../control-api/provisioning/account-record.js';

const ENV_ID = '3f1c2b4a-5d6e-4f70-8a9b-0c1d2e3f4a5b';
const ACCOUNT = '210987654321';
const SETTINGS: OrganizationsSettings = {
  emailPattern: 'aws+{environmentId}@example.com',
  parentOu: 'ou-ab12-cd34ef56',
  accessRoleName: 'OrganizationAccountAccessRole',
  creationTimeoutSeconds: 30,
  region: 'us-east-1',
};

type Command = { constructor: { name: string }; input: Record<string, unknown> };

/** Fakes of Organizations, STS and IAM that record each command and answer from `answers`. */
function fakeAws(answers: Partial<Record<string, (input: Record<string, unknown>) => unknown>>) {
  const sent: { service: string; command: string; input: Record<string, unknown> }[] = [];
  const sender = (service: string) => ({
    send: (command: Command) => {
      sent.push({ service, command: command.constructor.name, input: command.input });
      const answer = answers[command.constructor.name];
      return Promise.resolve(answer ? answer(command.input) : {});
    },
  });
  return { sent, sender };
}

function factoryWith(
  answers: Parameters<typeof fakeAws>[0],
  settings: OrganizationsSettings = SETTINGS,
  iamCredentials: unknown[] = [],
) {
  const aws = fakeAws(answers);
  let clock = 0;
  const factory = createOrganizationsFactory({
    settings,
    controlPlaneArn: 'arn:aws:iam::123456789012:role/tavio-control-plane',
    organizations: aws.sender('organizations') as never,
    sts: () => aws.sender('sts') as never,
    iam: (_region, credentials) => {
      iamCredentials.push(credentials);
      return { ...aws.sender('iam'), destroy: () => undefined } as never;
    },
    pollIntervalMs: 5_000,
    now: () => clock,
    sleep: (ms) => {
      clock += ms;
      return Promise.resolve();
    },
  });
  return { factory, sent: aws.sent };
}

const account = (record: string): AccountToMake => ({
  environmentId: ENV_ID,
  organization: 'acme',
  environment: 'production',
  awsRegion: 'eu-central-1',
  record,
});

const ACCESS_ROLE_ARN = `arn:aws:iam::${ACCOUNT}:role/OrganizationAccountAccessRole`;
const PROVISIONER_ARN = `arn:aws:iam::${ACCOUNT}:role/tavio-provisioner`;
const ADMINISTRATOR = 'arn:aws:iam::aws:policy/AdministratorAccess';

/** An AWS refusal as the SDK throws it. */
const refused = (name: string, status: number) =>
  Object.assign(new Error(`${name} (test)`), { name, $metadata: { httpStatusCode: status } });

/** Each role's credentials, by the role assumed. */
const credentialsOf = (input: Record<string, unknown>) =>
  input.RoleArn === PROVISIONER_ARN
    ? { AccessKeyId: 'ASIAPROV', SecretAccessKey: 'provisioner-secret', SessionToken: 'prov-session' }
    : { AccessKeyId: 'ASIAACCESS', SecretAccessKey: 'access-secret', SessionToken: 'session' };

const succeeding = {
  CreateAccountCommand: () => ({ CreateAccountStatus: { Id: 'car-0123456789abcdef', State: 'IN_PROGRESS' } }),
  DescribeCreateAccountStatusCommand: () => ({
    CreateAccountStatus: { State: 'SUCCEEDED', AccountId: ACCOUNT },
  }),
  ListParentsCommand: () => ({ Parents: [{ Id: 'r-ab12', Type: 'ROOT' }] }),
  AssumeRoleCommand: (input: Record<string, unknown>) => ({ Credentials: credentialsOf(input) }),
  // The new account's roles, as AWS makes them: the access role with its administrator policy.
  ListRolesCommand: () => ({
    Roles: [{ RoleName: 'OrganizationAccountAccessRole' }, { RoleName: 'tavio-provisioner' }],
  }),
  ListAttachedRolePoliciesCommand: () => ({
    AttachedPolicies: [{ PolicyName: 'AdministratorAccess', PolicyArn: ADMINISTRATOR }],
  }),
  ListRolePoliciesCommand: () => ({ PolicyNames: [] }),
};

/** The access role's removal, as the provisioner role does it. */
const REMOVAL = [
  ListRolesCommand.name,
  ListAttachedRolePoliciesCommand.name,
  DetachRolePolicyCommand.name,
  ListRolePoliciesCommand.name,
  DeleteRoleCommand.name,
];

describe('the AWS Organizations account factory', () => {
  it('creates the account, waits, moves it into the OU, bootstraps the provisioner role through the access role, then deletes the access role', async () => {
    const records: string[] = [];
    const credentials: unknown[] = [];
    const { factory, sent } = factoryWith(succeeding, SETTINGS, credentials);
    const accountId = await factory.ensureAccount(account(unrequestedAccount()), async (value) => {
      records.push(value);
    });
    expect(accountId).toBe(ACCOUNT);
    expect(sent.map((s) => s.command)).toEqual([
      CreateAccountCommand.name,
      DescribeCreateAccountStatusCommand.name,
      ListParentsCommand.name,
      MoveAccountCommand.name,
      AssumeRoleCommand.name,
      CreateRoleCommand.name,
      PutRolePolicyCommand.name,
      PutRolePolicyCommand.name,
      AssumeRoleCommand.name,
      ...REMOVAL,
    ]);
    expect(sent[0]!.input).toEqual({
      Email: `aws+${ENV_ID}@example.com`,
      AccountName: 'tavio-acme-production',
      RoleName: 'OrganizationAccountAccessRole',
      IamUserAccessToBilling: 'DENY',
      Tags: [
        { Key: 'tavio:organization', Value: 'acme' },
        { Key: 'tavio:environment', Value: 'production' },
        { Key: 'tavio:environment-id', Value: ENV_ID },
      ],
    });
    expect(sent[1]!.input).toEqual({ CreateAccountRequestId: 'car-0123456789abcdef' });
    expect(sent[2]!.input).toEqual({ ChildId: ACCOUNT });
    expect(sent[3]!.input).toEqual({
      AccountId: ACCOUNT,
      SourceParentId: 'r-ab12',
      DestinationParentId: 'ou-ab12-cd34ef56',
    });
    expect(sent[4]).toMatchObject({
      service: 'sts',
      input: { RoleArn: `arn:aws:iam::${ACCOUNT}:role/OrganizationAccountAccessRole` },
    });
    // The provisioner role is made with the access role's credentials, trusted by the control plane;
    // the access role is removed with the provisioner role's.
    expect(credentials).toEqual([
      { accessKeyId: 'ASIAACCESS', secretAccessKey: 'access-secret', sessionToken: 'session' },
      { accessKeyId: 'ASIAPROV', secretAccessKey: 'provisioner-secret', sessionToken: 'prov-session' },
    ]);
    expect(sent[5]).toMatchObject({ service: 'iam', input: { RoleName: 'tavio-provisioner' } });
    expect(JSON.parse(sent[5]!.input.AssumeRolePolicyDocument as string)).toMatchObject({
      Statement: [{ Principal: { AWS: 'arn:aws:iam::123456789012:role/tavio-control-plane' } }],
    });
    expect(sent[6]!.input).toMatchObject({
      RoleName: 'tavio-provisioner',
      PolicyName: 'provision-environment',
    });
    // The provisioner role may take the access role apart, and nothing more on it.
    expect(sent[7]!.input).toMatchObject({
      RoleName: 'tavio-provisioner',
      PolicyName: 'remove-organization-access-role',
    });
    const removal = JSON.parse(sent[7]!.input.PolicyDocument as string) as {
      Statement: { Action: string[]; Resource: string[] }[];
    };
    expect(removal.Statement).toEqual([
      expect.objectContaining({ Action: ['iam:ListRoles'], Resource: ['*'] }),
      expect.objectContaining({ Resource: [ACCESS_ROLE_ARN] }),
    ]);
    expect(removal.Statement[1]!.Action).toEqual([
      'iam:GetRole',
      'iam:ListAttachedRolePolicies',
      'iam:ListRolePolicies',
      'iam:DetachRolePolicy',
      'iam:DeleteRolePolicy',
      'iam:DeleteRole',
    ]);
    // Verified: the provisioner role is assumed once before the access role goes.
    expect(sent[8]).toMatchObject({ service: 'sts', input: { RoleArn: PROVISIONER_ARN } });
    expect(sent.slice(10).map((s) => ({ service: s.service, input: s.input }))).toEqual([
      { service: 'iam', input: { RoleName: 'OrganizationAccountAccessRole' } },
      { service: 'iam', input: { RoleName: 'OrganizationAccountAccessRole', PolicyArn: ADMINISTRATOR } },
      { service: 'iam', input: { RoleName: 'OrganizationAccountAccessRole' } },
      { service: 'iam', input: { RoleName: 'OrganizationAccountAccessRole' } },
    ]);
    // The request is stored before the wait, the account only once the access role is gone.
    expect(records).toEqual([requestedAccount('car-0123456789abcdef'), ACCOUNT]);
  });

  it('deletes inline policies of the access role too, before the role', async () => {
    const { factory, sent } = factoryWith({
      ...succeeding,
      ListAttachedRolePoliciesCommand: () => ({ AttachedPolicies: [] }),
      ListRolePoliciesCommand: () => ({ PolicyNames: ['AdministratorAccess'] }),
    });
    await factory.ensureAccount(account(unrequestedAccount()), () => Promise.resolve());
    const removal = sent.filter((s) => s.service === 'iam').slice(-4);
    expect(removal.map((s) => s.command)).toEqual([
      ListAttachedRolePoliciesCommand.name,
      ListRolePoliciesCommand.name,
      DeleteRolePolicyCommand.name,
      DeleteRoleCommand.name,
    ]);
    expect(removal[2]!.input).toEqual({
      RoleName: 'OrganizationAccountAccessRole',
      PolicyName: 'AdministratorAccess',
    });
  });

  it('resumes through the provisioner role when an earlier attempt deleted the access role already', async () => {
    const credentials: unknown[] = [];
    const { factory, sent } = factoryWith(
      {
        ...succeeding,
        ListParentsCommand: () => ({ Parents: [{ Id: 'ou-ab12-cd34ef56', Type: 'ORGANIZATIONAL_UNIT' }] }),
        AssumeRoleCommand: (input) => {
          if (input.RoleArn === ACCESS_ROLE_ARN) throw refused('AccessDenied', 403);
          return { Credentials: credentialsOf(input) };
        },
        ListRolesCommand: () => ({ Roles: [{ RoleName: 'tavio-provisioner' }] }),
      },
      SETTINGS,
      credentials,
    );
    const records: string[] = [];
    await factory.ensureAccount(account(requestedAccount('car-0123456789abcdef')), async (value) => {
      records.push(value);
    });
    expect(sent.map((s) => s.command)).toEqual([
      DescribeCreateAccountStatusCommand.name,
      ListParentsCommand.name,
      AssumeRoleCommand.name,
      ListRolesCommand.name,
    ]);
    expect(sent[2]!.input).toMatchObject({ RoleArn: PROVISIONER_ARN });
    expect(credentials).toEqual([expect.objectContaining({ accessKeyId: 'ASIAPROV' })]);
    expect(records).toEqual([ACCOUNT]);
  });

  it('resumes through the provisioner role, and deletes the access role an earlier attempt left', async () => {
    const { factory, sent } = factoryWith({
      ...succeeding,
      ListParentsCommand: () => ({ Parents: [{ Id: 'ou-ab12-cd34ef56', Type: 'ORGANIZATIONAL_UNIT' }] }),
    });
    await factory.ensureAccount(account(requestedAccount('car-0123456789abcdef')), () => Promise.resolve());
    expect(sent.map((s) => s.command)).toEqual([
      DescribeCreateAccountStatusCommand.name,
      ListParentsCommand.name,
      AssumeRoleCommand.name,
      ...REMOVAL,
    ]);
    expect(sent.filter((s) => s.command === AssumeRoleCommand.name).map((s) => s.input.RoleArn)).toEqual([
      PROVISIONER_ARN,
    ]);
  });

  it('bootstraps through the access role on resume when the provisioner role is not there yet', async () => {
    let provisionerMade = false;
    const { factory, sent } = factoryWith({
      ...succeeding,
      ListParentsCommand: () => ({ Parents: [{ Id: 'ou-ab12-cd34ef56', Type: 'ORGANIZATIONAL_UNIT' }] }),
      AssumeRoleCommand: (input) => {
        if (input.RoleArn === PROVISIONER_ARN && !provisionerMade) throw refused('AccessDenied', 403);
        return { Credentials: credentialsOf(input) };
      },
      CreateRoleCommand: () => {
        provisionerMade = true;
        return {};
      },
    });
    await factory.ensureAccount(account(requestedAccount('car-0123456789abcdef')), () => Promise.resolve());
    expect(sent.map((s) => s.command)).toEqual([
      DescribeCreateAccountStatusCommand.name,
      ListParentsCommand.name,
      AssumeRoleCommand.name,
      AssumeRoleCommand.name,
      CreateRoleCommand.name,
      PutRolePolicyCommand.name,
      PutRolePolicyCommand.name,
      AssumeRoleCommand.name,
      ...REMOVAL,
    ]);
    expect(sent.filter((s) => s.command === AssumeRoleCommand.name).map((s) => s.input.RoleArn)).toEqual([
      PROVISIONER_ARN,
      ACCESS_ROLE_ARN,
      PROVISIONER_ARN,
    ]);
  });

  it('bootstraps through the access role on resume when the provisioner role fails otherwise', async () => {
    // The local service answers a role that does not exist with an internal error, not a refusal.
    let provisionerMade = false;
    const { factory, sent } = factoryWith({
      ...succeeding,
      ListRolesCommand: () => {
        if (!provisionerMade) throw new Error('Deserialization error: <html>');
        return succeeding.ListRolesCommand();
      },
      CreateRoleCommand: () => {
        provisionerMade = true;
        return {};
      },
    });
    await factory.ensureAccount(account(requestedAccount('car-0123456789abcdef')), () => Promise.resolve());
    expect(sent.filter((s) => s.command === AssumeRoleCommand.name).map((s) => s.input.RoleArn)).toEqual([
      PROVISIONER_ARN,
      ACCESS_ROLE_ARN,
      PROVISIONER_ARN,
    ]);
    expect(sent.at(-1)!.command).toBe(DeleteRoleCommand.name);
  });

  it('waits while IAM propagates the new provisioner role, and keeps the access role when it never answers', async () => {
    let provisionerAnswers = 0;
    const { factory, sent } = factoryWith({
      ...succeeding,
      AssumeRoleCommand: (input) => {
        if (input.RoleArn === PROVISIONER_ARN && provisionerAnswers++ < 2) throw refused('AccessDenied', 403);
        return { Credentials: credentialsOf(input) };
      },
    });
    await factory.ensureAccount(account(unrequestedAccount()), () => Promise.resolve());
    expect(sent.filter((s) => s.input.RoleArn === PROVISIONER_ARN)).toHaveLength(3);
    expect(sent.map((s) => s.command)).toContain(DeleteRoleCommand.name);

    const never = factoryWith({
      ...succeeding,
      ListRolesCommand: () => {
        throw refused('AccessDenied', 403);
      },
    });
    const records: string[] = [];
    const failure = await never.factory
      .ensureAccount(account(unrequestedAccount()), async (value) => {
        records.push(value);
      })
      .catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(ProvisionerRoleUnverified);
    expect((failure as Error).message).toContain(`account ${ACCOUNT}`);
    expect(never.sent.map((s) => s.command)).not.toContain(DeleteRoleCommand.name);
    expect(records).toEqual([requestedAccount('car-0123456789abcdef')]);
  });

  it('resumes a recorded request without creating another account, and leaves an account in its OU', async () => {
    const { factory, sent } = factoryWith({
      ...succeeding,
      ListParentsCommand: () => ({ Parents: [{ Id: 'ou-ab12-cd34ef56', Type: 'ORGANIZATIONAL_UNIT' }] }),
    });
    const records: string[] = [];
    await factory.ensureAccount(account(requestedAccount('car-0123456789abcdef')), async (value) => {
      records.push(value);
    });
    expect(sent.map((s) => s.command)).not.toContain(CreateAccountCommand.name);
    expect(sent.map((s) => s.command)).not.toContain(MoveAccountCommand.name);
    expect(records).toEqual([ACCOUNT]);
  });

  it('answers a ready account at once', async () => {
    const { factory, sent } = factoryWith(succeeding);
    expect(await factory.ensureAccount(account(ACCOUNT), () => Promise.resolve())).toBe(ACCOUNT);
    expect(sent).toEqual([]);
  });

  it('polls while the request is in progress, and names the wait that ran out', async () => {
    const { factory, sent } = factoryWith({
      ...succeeding,
      DescribeCreateAccountStatusCommand: () => ({ CreateAccountStatus: { State: 'IN_PROGRESS' } }),
    });
    const records: string[] = [];
    const failure = await factory
      .ensureAccount(account(unrequestedAccount()), async (value) => {
        records.push(value);
      })
      .catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(AccountCreationPending);
    expect((failure as Error).message).toBe(
      'account request car-0123456789abcdef is still in progress after 30s; repeating the request waits on',
    );
    // At 0, 5, ... 30 s, then no more: bounded, and the request stays recorded for the next attempt.
    expect(sent.filter((s) => s.command === DescribeCreateAccountStatusCommand.name)).toHaveLength(7);
    expect(records).toEqual([requestedAccount('car-0123456789abcdef')]);
  });

  it.each(['ACCOUNT_LIMIT_EXCEEDED', 'INVALID_EMAIL', 'CONCURRENT_ACCOUNT_MODIFICATION'])(
    'names a %s failure and clears the request, so that the next attempt asks again',
    async (reason) => {
      const { factory, sent } = factoryWith({
        ...succeeding,
        DescribeCreateAccountStatusCommand: () => ({
          CreateAccountStatus: { State: 'FAILED', FailureReason: reason },
        }),
      });
      const records: string[] = [];
      const failure = await factory
        .ensureAccount(account(unrequestedAccount()), async (value) => {
          records.push(value);
        })
        .catch((error: unknown) => error);
      expect(failure).toBeInstanceOf(AccountCreationFailed);
      expect(failure).toMatchObject({ name: 'AccountCreationFailed', reason });
      expect((failure as Error).message).toContain(`environment ${ENV_ID}: ${reason}`);
      expect(readAccountRecord(records.at(-1)!)).toEqual({ state: 'unrequested' });
      expect(sent.map((s) => s.command)).not.toContain(AssumeRoleCommand.name);
    },
  );

  it('takes over the account an earlier attempt created when the address exists already', async () => {
    const { factory, sent } = factoryWith({
      ...succeeding,
      DescribeCreateAccountStatusCommand: () => ({
        CreateAccountStatus: { State: 'FAILED', FailureReason: 'EMAIL_ALREADY_EXISTS' },
      }),
      ListAccountsCommand: (input) =>
        input.NextToken
          ? { Accounts: [{ Id: ACCOUNT, Email: `AWS+${ENV_ID}@example.com` }] }
          : { Accounts: [{ Id: '111111111111', Email: 'someone@example.com' }], NextToken: 'page-2' },
    });
    expect(await factory.ensureAccount(account(unrequestedAccount()), () => Promise.resolve())).toBe(ACCOUNT);
    expect(sent.filter((s) => s.command === ListAccountsCommand.name)).toHaveLength(2);
  });

  it('names EMAIL_ALREADY_EXISTS when no account of the organization has the address', async () => {
    const { factory } = factoryWith({
      ...succeeding,
      DescribeCreateAccountStatusCommand: () => ({
        CreateAccountStatus: { State: 'FAILED', FailureReason: 'EMAIL_ALREADY_EXISTS' },
      }),
      ListAccountsCommand: () => ({ Accounts: [] }),
    });
    await expect(
      factory.ensureAccount(account(unrequestedAccount()), () => Promise.resolve()),
    ).rejects.toMatchObject({ name: 'AccountCreationFailed', reason: 'EMAIL_ALREADY_EXISTS' });
  });

  it('keeps the account where AWS put it when no OU is configured', async () => {
    const { factory, sent } = factoryWith(succeeding, { ...SETTINGS, parentOu: undefined });
    await factory.ensureAccount(account(unrequestedAccount()), () => Promise.resolve());
    expect(sent.map((s) => s.command)).not.toContain(ListParentsCommand.name);
  });

  it('names accounts within the 50 characters AWS allows', () => {
    expect(accountNameOf('a'.repeat(20), 'b'.repeat(20))).toHaveLength(47);
    expect(accountNameOf('a'.repeat(40), 'b'.repeat(40)).length).toBeLessThanOrEqual(50);
  });
});

describe('the account record', () => {
  it('reads the three stages and refuses anything else by name', () => {
    expect(readAccountRecord(ACCOUNT)).toEqual({ state: 'ready', accountId: ACCOUNT });
    expect(readAccountRecord(requestedAccount('car-1'))).toEqual({ state: 'requested', requestId: 'car-1' });
    expect(readAccountRecord(unrequestedAccount())).toEqual({ state: 'unrequested' });
    expect(unrequestedAccount()).not.toBe(unrequestedAccount());
    expect(() => readAccountRecord('12345')).toThrow('neither an account id nor an account request');
  });
});
