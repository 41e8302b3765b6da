import { randomBytes, randomUUID } from 'node:crypto';
import {
  CreateAccessKeyCommand,
  CreateUserCommand,
  GetRoleCommand,
  PutRolePolicyCommand,
  PutUserPolicyCommand,
} from '@aws-sdk/client-iam';
import {
  CreateOrganizationalUnitCommand,
  CreateOrganizationCommand,
  DescribeCreateAccountStatusCommand,
  ListAccountsCommand,
  ListParentsCommand,
  ListRootsCommand,
  OrganizationsClient,
} from '@aws-sdk/client-organizations';
import { GetBucketEncryptionCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { tolerating } from '../../common/aws-errors.js';
import { DEFAULT_CONTROL_ACCOUNT_ID } from '../../common/config.js';
import type { AwsCredentials, OrganizationsSettings } from '../../common/config.js';
import { keyAliasOf, PROVISIONER_ROLE } from '../../common/names.js';
import { createAccountAccess } from '../../control-api/provisioning/account-access.js';
import type { AccountAccess } from '../../control-api/provisioning/account-access.js';
import {
  readAccountRecord,
  requestedAccount,
  unrequestedAccount,
} from '../../control-api/provisioning/account-record.js';
import { ensureBucket, ensureKey } from '../../control-api/provisioning/aws-resources.js';
import { destroyBucket, destroyKey } from '../../control-api/provisioning/retire-aws.js';
import { emulatorIamIn, withEnforcementOff } from '../../scripts/stack/emulator-iam.js';
import { refusalOf } from '../support/aws.js';

/**
 * The AWS Organizations account factory against the local S3/KMS/IAM service, with its IAM
 * enforcement on: an account is created, waited for and moved into an OU, the organization's
 * access role is assumed in it, the provisioner role bootstrapped there, the access role deleted,
 * and the environment's key and bucket made in that account through the provisioner role.
 *
 * The emulator creates the access role in a new account without the administrator policy AWS
 * attaches to it, so it may do nothing there. The test shows that refusal (the first attempt stops
 * at the bootstrap, recorded), then gives the role what AWS gives it, and the second attempt
 * resumes from the recorded request.
 */

const ACCESS_ROLE = 'OrganizationAccountAccessRole';
const suffix = randomBytes(4).toString('hex');
let endpoint: string;
let management: AwsCredentials;
let organizations: OrganizationsClient;
let access: AccountAccess;
let parentOu: string;

/** The management account's principal: Organizations, and the two roles it enters accounts by. */
async function managementIdentity(): Promise<AwsCredentials> {
  const iam = emulatorIamIn(endpoint, DEFAULT_CONTROL_ACCOUNT_ID);
  const bootstrapOrganizations = new OrganizationsClient({
    region: 'us-east-1',
    endpoint,
    credentials: { accessKeyId: 'bootstrap', secretAccessKey: 'bootstrap' },
  });
  try {
    return await withEnforcementOff(endpoint, async () => {
      const UserName = `tavio-account-factory-${suffix}`;
      await iam.send(new CreateUserCommand({ UserName }));
      await iam.send(
        new PutUserPolicyCommand({
          UserName,
          PolicyName: 'account-factory',
          PolicyDocument: JSON.stringify({
            Version: '2012-10-17',
            Statement: [
              { Effect: 'Allow', Action: 'organizations:*', Resource: '*' },
              {
                Effect: 'Allow',
                Action: 'sts:AssumeRole',
                Resource: [`arn:aws:iam::*:role/${ACCESS_ROLE}`, `arn:aws:iam::*:role/${PROVISIONER_ROLE}`],
              },
            ],
          }),
        }),
      );
      const { AccessKey } = await iam.send(new CreateAccessKeyCommand({ UserName }));
      await tolerating(
        () => bootstrapOrganizations.send(new CreateOrganizationCommand({ FeatureSet: 'ALL' })),
        ['AlreadyInOrganizationException'],
      );
      return { accessKeyId: AccessKey!.AccessKeyId!, secretAccessKey: AccessKey!.SecretAccessKey! };
    });
  } finally {
    iam.destroy();
    bootstrapOrganizations.destroy();
  }
}

beforeAll(async () => {
  endpoint = inject('stack').awsEndpoint;
  management = await managementIdentity();
  organizations = new OrganizationsClient({ region: 'us-east-1', endpoint, credentials: management });
  const { Roots } = await organizations.send(new ListRootsCommand({}));
  const ou = await organizations.send(
    new CreateOrganizationalUnitCommand({ ParentId: Roots![0]!.Id!, Name: `tavio-environments-${suffix}` }),
  );
  parentOu = ou.OrganizationalUnit!.Id!;
  const settings: OrganizationsSettings = {
    emailPattern: 'aws+{environmentId}@example.com',
    parentOu,
    accessRoleName: ACCESS_ROLE,
    creationTimeoutSeconds: 30,
    region: 'us-east-1',
    endpoint,
  };
  access = createAccountAccess({
    endpointFor: () => endpoint,
    credentials: management,
    organizations: settings,
    controlAccountId: DEFAULT_CONTROL_ACCOUNT_ID,
  });
});

afterAll(() => {
  access?.destroy();
  organizations?.destroy();
});

describe('the AWS Organizations account factory on the local service', () => {
  it('creates the account, bootstraps its provisioner role through the access role, and provisions there', async () => {
    const environmentId = randomUUID();
    let record = unrequestedAccount();
    const account = () => ({
      environmentId,
      organization: 'orgtest',
      environment: 'production',
      awsRegion: 'eu-central-1',
      record,
    });
    const save = (value: string) => {
      record = value;
      return Promise.resolve();
    };

    // First attempt: created, waited for, moved; then the emulator's bare access role is refused.
    const first = await access.ensureAccount(account(), save).catch((error: unknown) => error);
    expect(refusalOf(first)).toMatchObject({ status: 403, name: 'AccessDenied' });
    const stored = readAccountRecord(record);
    if (stored.state !== 'requested') throw new Error(`the request was not recorded: ${record}`);
    const { CreateAccountStatus: status } = await organizations.send(
      new DescribeCreateAccountStatusCommand({ CreateAccountRequestId: stored.requestId }),
    );
    expect(status).toMatchObject({ State: 'SUCCEEDED', AccountName: 'tavio-orgtest-production' });
    const accountId = status!.AccountId!;
    const { Parents } = await organizations.send(new ListParentsCommand({ ChildId: accountId }));
    expect(Parents).toEqual([{ Id: parentOu, Type: 'ORGANIZATIONAL_UNIT' }]);

    // What AWS attaches to the access role of every account it creates.
    const inAccount = emulatorIamIn(endpoint, accountId);
    try {
      await withEnforcementOff(endpoint, () =>
        inAccount.send(
          new PutRolePolicyCommand({
            RoleName: ACCESS_ROLE,
            PolicyName: 'AdministratorAccess',
            PolicyDocument: JSON.stringify({
              Version: '2012-10-17',
              Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }],
            }),
          }),
        ),
      );
    } finally {
      inAccount.destroy();
    }

    // Second attempt: resumes the recorded request; no second account.
    expect(await access.ensureAccount(account(), save)).toBe(accountId);
    expect(record).toBe(accountId);
    const email = `aws+${environmentId}@example.com`;
    const accounts = [];
    let NextToken: string | undefined;
    do {
      const page = await organizations.send(new ListAccountsCommand({ NextToken }));
      accounts.push(...(page.Accounts ?? []).filter((a) => a.Email === email));
      NextToken = page.NextToken;
    } while (NextToken);
    expect(accounts.map((a) => a.Id)).toEqual([accountId]);

    // The organization's access role (an administrator of the account) is gone: the control plane
    // keeps the provisioner role's rights only.
    const accessRole = () =>
      withEnforcementOff(endpoint, async () => {
        const iam = emulatorIamIn(endpoint, accountId);
        try {
          return await iam.send(new GetRoleCommand({ RoleName: ACCESS_ROLE }));
        } finally {
          iam.destroy();
        }
      }).catch((error: unknown) => error);
    expect(await accessRole()).toMatchObject({ name: 'NoSuchEntityException' });

    // A retry that finds the access role gone resumes through the provisioner role.
    record = requestedAccount(stored.requestId);
    expect(await access.ensureAccount(account(), save)).toBe(accountId);
    expect(record).toBe(accountId);

    // From here on, the control plane's way in is the provisioner role, under IAM enforcement.
    const aws = await access.clients(accountId, 'eu-central-1');
    // It acts by the policy bootstrapped with it: users are not its to make.
    const user = await aws.iam
      .send(new CreateUserCommand({ UserName: `intruder-${suffix}` }))
      .catch((error: unknown) => error);
    expect(refusalOf(user)).toMatchObject({ status: 403, name: 'AccessDenied' });
    const identity = {
      organization: 'orgtest',
      environment: 'production',
      region: 'eu',
      awsRegion: 'eu-central-1',
      accountId,
    };
    const bucket = `tavio-orgtest-production-${suffix}`;
    const keyArn = await ensureKey(aws, identity);
    expect(keyArn).toMatch(new RegExp(`^arn:aws:kms:eu-central-1:${accountId}:key/`));
    await ensureBucket(aws, identity, bucket, keyArn);
    const encryption = await aws.s3.send(new GetBucketEncryptionCommand({ Bucket: bucket }));
    expect(
      encryption.ServerSideEncryptionConfiguration?.Rules?.[0]?.ApplyServerSideEncryptionByDefault
        ?.KMSMasterKeyID,
    ).toBe(keyArn);

    await destroyBucket(aws, bucket, new Map());
    await destroyKey(aws, keyArn, keyAliasOf('orgtest', 'production'));
  });
});
