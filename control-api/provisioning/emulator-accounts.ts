import { CreateRoleCommand, IAMClient, PutRolePolicyCommand } from '@aws-sdk/client-iam';
import { AssumeRoleCommand } from '@aws-sdk/client-sts';
import type { STSClient } from '@aws-sdk/client-sts';
import { PROVISIONER_ROLE, roleArn } from '../../common/names.js';
import { provisionerPermissions, provisionerTrustPolicy } from './policies.js';

/**
 * The local stand-in for an account factory. On AWS, an environment's account comes from AWS
 * Organizations with its provisioner role already in place. The local S3/KMS/IAM service enforces
 * IAM policies, but it cannot authorize the first role of a new account, so that role is created
 * in a brief window with enforcement off, one account at a time.
 */

/** Turns the emulator's IAM enforcement on or off (its admin API, `/moto-api/reset-auth`). */
export async function setEmulatorEnforcement(endpoint: string, enforce: boolean): Promise<void> {
  const response = await fetch(new URL('/moto-api/reset-auth', endpoint), {
    method: 'POST',
    body: enforce ? '0' : 'inf',
  });
  if (!response.ok)
    throw new Error(`the S3/KMS service at ${endpoint} refused reset-auth: ${response.status}`);
}

let window: Promise<unknown> = Promise.resolve();

/** Creates (or updates) an account's provisioner role, trusted by the control plane only. */
export function vendEmulatorAccount(options: {
  endpoint: string;
  sts: STSClient;
  accountId: string;
  awsRegion: string;
  controlPlaneArn: string;
}): Promise<void> {
  const provisionerArn = roleArn(options.accountId, PROVISIONER_ROLE);
  const vend = async () => {
    try {
      await setEmulatorEnforcement(options.endpoint, false);
      const answer = await options.sts.send(
        new AssumeRoleCommand({ RoleArn: provisionerArn, RoleSessionName: 'tavio-account-factory' }),
      );
      const c = answer.Credentials!;
      const iam = new IAMClient({
        region: options.awsRegion,
        endpoint: options.endpoint,
        credentials: {
          accessKeyId: c.AccessKeyId!,
          secretAccessKey: c.SecretAccessKey!,
          sessionToken: c.SessionToken!,
        },
      });
      try {
        await iam
          .send(
            new CreateRoleCommand({
              RoleName: PROVISIONER_ROLE,
              AssumeRolePolicyDocument: JSON.stringify(provisionerTrustPolicy(options.controlPlaneArn)),
            }),
          )
          .catch((error: unknown) => {
            if (!(error instanceof Error && error.name === 'EntityAlreadyExistsException')) throw error;
          });
        await iam.send(
          new PutRolePolicyCommand({
            RoleName: PROVISIONER_ROLE,
            PolicyName: 'provision-environment',
            PolicyDocument: JSON.stringify(provisionerPermissions(options.accountId, provisionerArn)),
          }),
        );
      } finally {
        iam.destroy();
      }
    } finally {
      await setEmulatorEnforcement(options.endpoint, true);
    }
  };
  const next = window.then(vend, vend);
  window = next.catch(() => undefined);
  return next;
}
