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
import { DATAPLANE_ROLE, PROVISIONER_ROLE } from '../../common/names.js';
import { GATEWAY_CODES, displayPath, type GatewayCode, type Report, type StackPaths } from './config.js';

/**
 * The control account's identities on the local S3/KMS/IAM service: the control plane and one
 * worker host per gateway, each an IAM user allowed to assume one role name in environment
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

const MAY_ASSUME = (role: string) => ({
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Action: 'sts:AssumeRole', Resource: `arn:aws:iam::*:role/${role}` }],
});

const identitiesFile = (paths: StackPaths) => join(paths.stackDir, 'aws-identities.json');

export function readAwsIdentities(paths: StackPaths): AwsIdentities | undefined {
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

async function createUser(iam: IAMClient, name: string, role: string): Promise<AwsKey> {
  await iam.send(new CreateUserCommand({ UserName: name })).catch((error: unknown) => {
    if (!(error instanceof Error && error.name === 'EntityAlreadyExistsException')) throw error;
  });
  await iam.send(
    new PutUserPolicyCommand({
      UserName: name,
      PolicyName: 'assume-environment-role',
      PolicyDocument: JSON.stringify(MAY_ASSUME(role)),
    }),
  );
  const { AccessKey } = await iam.send(new CreateAccessKeyCommand({ UserName: name }));
  return { accessKeyId: AccessKey!.AccessKeyId!, secretAccessKey: AccessKey!.SecretAccessKey! };
}

/** Reuses the recorded identities while the service still knows them; otherwise creates them. Leaves enforcement on. */
export async function ensureAwsIdentities(
  paths: StackPaths,
  endpoint: string,
  report: Report,
): Promise<AwsIdentities> {
  const recorded = readAwsIdentities(paths);
  if (recorded && (await stillValid(endpoint, recorded.controlPlane))) {
    await setEmulatorEnforcement(endpoint, true);
    return recorded;
  }
  report('moto: creating the control account identities (control plane, one per worker host)...');
  await setEmulatorEnforcement(endpoint, false);
  // With enforcement off, any key signs as the service's default account: the control account.
  const iam = new IAMClient({
    region: 'us-east-1',
    endpoint,
    credentials: { accessKeyId: 'bootstrap', secretAccessKey: 'bootstrap' },
  });
  try {
    const identities: AwsIdentities = {
      controlPlane: await createUser(iam, 'tavio-control-plane', PROVISIONER_ROLE),
      hosts: Object.fromEntries(
        await Promise.all(
          GATEWAY_CODES.map(async (gw) => [gw, await createUser(iam, `tavio-host-${gw}`, DATAPLANE_ROLE)]),
        ),
      ) as Record<GatewayCode, AwsKey>,
    };
    writeFileSync(identitiesFile(paths), JSON.stringify(identities, null, 2), { mode: 0o600 });
    report(`moto: identities recorded in ${displayPath(identitiesFile(paths))}; IAM enforcement on`);
    return identities;
  } finally {
    iam.destroy();
    await setEmulatorEnforcement(endpoint, true);
  }
}
