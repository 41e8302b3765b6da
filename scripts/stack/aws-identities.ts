import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  CreateAccessKeyCommand,
  CreateUserCommand,
  DeleteAccessKeyCommand,
  IAMClient,
  ListAccessKeysCommand,
  PutUserPolicyCommand,
} from '@aws-sdk/client-iam';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { enforceEmulatorIam, withEnforcementOff } from './emulator-iam.js';
import { tolerating } from '../../common/aws-errors.js';
import { dataplaneRoleArn, PROVISIONER_ROLE, roleArn } from '../../common/names.js';
import { GATEWAY_CODES, displayPath, type GatewayCode, type Report, type StackPaths } from './config.js';

/**
 * The control account's identities on the local S3/KMS/IAM service: the control plane and one
 * worker host per gateway, each an IAM user that may assume one kind of role in environment
 * accounts and nothing else. With them in place the service enforces IAM for every caller.
 */

export interface AwsKey {
  accessKeyId: string;
  secretAccessKey: string;
}

export interface AwsIdentities {
  controlPlane: AwsKey;
  hosts: Record<GatewayCode, AwsKey>;
}

/**
 * The control plane's own KMS use, in the control account only: the keys that wrap Temporal payload
 * data keys. Environment accounts stay out of reach: KMS refuses another account's principals.
 */
const PAYLOAD_KEY_ACTIONS = [
  'kms:CreateKey',
  'kms:CreateAlias',
  'kms:DescribeKey',
  'kms:GenerateDataKey',
  'kms:Decrypt',
];

/** Each identity: its user name, the roles it may assume in any environment account, and what else it may do. */
const IDENTITIES = [
  {
    name: 'tavio-control-plane',
    mayAssume: roleArn('*', PROVISIONER_ROLE),
    mayAlso: [{ Effect: 'Allow', Action: PAYLOAD_KEY_ACTIONS, Resource: '*' }],
  },
  ...GATEWAY_CODES.map((gw) => ({
    name: `tavio-host-${gw}`,
    mayAssume: dataplaneRoleArn('*', gw),
    mayAlso: [],
  })),
];

const identitiesFile = (paths: StackPaths) => join(paths.stackDir, 'aws-identities.json');

/** What was recorded: the keys, and the identities (with their policies) they were made for. */
interface Recorded extends AwsIdentities {
  identities: typeof IDENTITIES;
}

function readRecorded(paths: StackPaths): Recorded | undefined {
  const file = identitiesFile(paths);
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Recorded) : undefined;
}

/** Whether the service knows a key; only meaningful with enforcement on, when unknown keys are refused. */
async function known(endpoint: string, key: AwsKey): Promise<boolean> {
  const sts = new STSClient({ region: 'us-east-1', endpoint, credentials: key });
  try {
    await sts.send(new GetCallerIdentityCommand({}));
    return true;
  } catch {
    return false;
  } finally {
    sts.destroy();
  }
}

async function stillCurrent(endpoint: string, recorded: Recorded | undefined): Promise<boolean> {
  if (!recorded || JSON.stringify(recorded.identities) !== JSON.stringify(IDENTITIES)) return false;
  const keys = [recorded.controlPlane, ...GATEWAY_CODES.map((gw) => recorded.hosts[gw])];
  return (await Promise.all(keys.map((key) => known(endpoint, key)))).every(Boolean);
}

/** Creates the user if needed, puts its policy, and gives it one new access key in place of any older ones. */
async function issueUser(
  iam: IAMClient,
  { name, mayAssume, mayAlso }: (typeof IDENTITIES)[number],
): Promise<AwsKey> {
  await tolerating(
    () => iam.send(new CreateUserCommand({ UserName: name })),
    ['EntityAlreadyExistsException'],
  );
  await iam.send(
    new PutUserPolicyCommand({
      UserName: name,
      PolicyName: 'assume-environment-role',
      PolicyDocument: JSON.stringify({
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Action: 'sts:AssumeRole', Resource: mayAssume }, ...mayAlso],
      }),
    }),
  );
  const { AccessKeyMetadata } = await iam.send(new ListAccessKeysCommand({ UserName: name }));
  for (const old of AccessKeyMetadata ?? []) {
    await iam.send(new DeleteAccessKeyCommand({ UserName: name, AccessKeyId: old.AccessKeyId }));
  }
  const { AccessKey } = await iam.send(new CreateAccessKeyCommand({ UserName: name }));
  return { accessKeyId: AccessKey!.AccessKeyId!, secretAccessKey: AccessKey!.SecretAccessKey! };
}

/**
 * Reuses the recorded identities while the service knows every key and the policies are unchanged;
 * otherwise issues them again in a brief window with enforcement off. Leaves enforcement on.
 */
export async function ensureAwsIdentities(
  paths: StackPaths,
  endpoint: string,
  report: Report,
): Promise<AwsIdentities> {
  await enforceEmulatorIam(endpoint);
  const recorded = readRecorded(paths);
  if (recorded && (await stillCurrent(endpoint, recorded))) return recorded;
  report('moto: issuing the control plane and worker host identities...');
  // With enforcement off, any key signs as the service's default account: the control account.
  const iam = new IAMClient({
    region: 'us-east-1',
    endpoint,
    credentials: { accessKeyId: 'bootstrap', secretAccessKey: 'bootstrap' },
  });
  try {
    const [controlPlane, ...hosts] = await withEnforcementOff(endpoint, () =>
      Promise.all(IDENTITIES.map((identity) => issueUser(iam, identity))),
    );
    const issued: Recorded = {
      controlPlane: controlPlane!,
      hosts: Object.fromEntries(GATEWAY_CODES.map((gw, i) => [gw, hosts[i]!])) as Record<GatewayCode, AwsKey>,
      identities: IDENTITIES,
    };
    writeFileSync(identitiesFile(paths), JSON.stringify(issued, null, 2), { mode: 0o600 });
    report(`moto: identities recorded in ${displayPath(identitiesFile(paths))}; IAM enforcement on`);
    return issued;
  } finally {
    iam.destroy();
  }
}
