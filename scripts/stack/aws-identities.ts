import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  CreateAccessKeyCommand,
  CreateUserCommand,
  IAMClient,
  PutUserPolicyCommand,
} from '@aws-sdk/client-iam';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { setEmulatorEnforcement } from '../../control-api/provisioning/emulator-accounts.js';
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

/** Each identity: its user name and the roles it may assume, in any environment account. */
const IDENTITIES = [
  { name: 'tavio-control-plane', mayAssume: roleArn('*', PROVISIONER_ROLE) },
  ...GATEWAY_CODES.map((gw) => ({ name: `tavio-host-${gw}`, mayAssume: dataplaneRoleArn('*', gw) })),
];

const identitiesFile = (paths: StackPaths) => join(paths.stackDir, 'aws-identities.json');

function readAwsIdentities(paths: StackPaths): AwsIdentities | undefined {
  const file = identitiesFile(paths);
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as AwsIdentities) : undefined;
}

async function stillValid(endpoint: string, key: AwsKey): Promise<boolean> {
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

async function ensureUser(iam: IAMClient, name: string, mayAssume: string, newKey: boolean) {
  await iam.send(new CreateUserCommand({ UserName: name })).catch((error: unknown) => {
    if (!(error instanceof Error && error.name === 'EntityAlreadyExistsException')) throw error;
  });
  await iam.send(
    new PutUserPolicyCommand({
      UserName: name,
      PolicyName: 'assume-environment-role',
      PolicyDocument: JSON.stringify({
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Action: 'sts:AssumeRole', Resource: mayAssume }],
      }),
    }),
  );
  if (!newKey) return undefined;
  const { AccessKey } = await iam.send(new CreateAccessKeyCommand({ UserName: name }));
  return { accessKeyId: AccessKey!.AccessKeyId!, secretAccessKey: AccessKey!.SecretAccessKey! };
}

/**
 * Puts the identities and their policies in place (keys are reused while the service still knows
 * them) in a brief window with enforcement off, and leaves enforcement on.
 */
export async function ensureAwsIdentities(
  paths: StackPaths,
  endpoint: string,
  report: Report,
): Promise<AwsIdentities> {
  const recorded = readAwsIdentities(paths);
  const reuse = recorded !== undefined && (await stillValid(endpoint, recorded.controlPlane));
  if (!reuse) report('moto: creating the control plane and worker host identities...');
  await setEmulatorEnforcement(endpoint, false);
  // With enforcement off, any key signs as the service's default account: the control account.
  const iam = new IAMClient({
    region: 'us-east-1',
    endpoint,
    credentials: { accessKeyId: 'bootstrap', secretAccessKey: 'bootstrap' },
  });
  try {
    const keys = await Promise.all(IDENTITIES.map((id) => ensureUser(iam, id.name, id.mayAssume, !reuse)));
    if (reuse) return recorded;
    const [controlPlane, ...hosts] = keys as AwsKey[];
    const identities: AwsIdentities = {
      controlPlane: controlPlane!,
      hosts: Object.fromEntries(GATEWAY_CODES.map((gw, i) => [gw, hosts[i]!])) as Record<GatewayCode, AwsKey>,
    };
    writeFileSync(identitiesFile(paths), JSON.stringify(identities, null, 2), { mode: 0o600 });
    report(`moto: identities recorded in ${displayPath(identitiesFile(paths))}; IAM enforcement on`);
    return identities;
  } finally {
    iam.destroy();
    await setEmulatorEnforcement(endpoint, true);
  }
}
