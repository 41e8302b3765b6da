import { CreateRoleCommand, IAMClient, PutRolePolicyCommand } from '@aws-sdk/client-iam';
import { AssumeRoleCommand } from '@aws-sdk/client-sts';
import type { STSClient } from '@aws-sdk/client-sts';
import { tolerating } from '../../common/aws-errors.js';
import { PROVISIONER_ROLE, roleArn } from '../../common/names.js';
import { provisionerPermissions, provisionerTrustPolicy } from './policies.js';

/**
 * The local stand-in for an account factory. On AWS, an environment's account comes from AWS
 * Organizations with its provisioner role already in place. The local S3/KMS/IAM service enforces
 * IAM policies, but it cannot authorize the first identity of an account, so such identities are
 * created in brief windows with enforcement off, one window at a time.
 */

async function setEmulatorEnforcement(endpoint: string, enforce: boolean): Promise<void> {
  const response = await fetch(new URL('/moto-api/reset-auth', endpoint), {
    method: 'POST',
    body: enforce ? '0' : 'inf',
  });
  if (!response.ok)
    throw new Error(`the S3/KMS service at ${endpoint} refused reset-auth: ${response.status}`);
}

let window: Promise<unknown> = Promise.resolve();

/**
 * Runs `work` with the emulator's IAM enforcement off (its admin API, `/moto-api/reset-auth`),
 * after any window this process has open, and turns enforcement on again however it ends.
 */
export function withEnforcementOff<T>(endpoint: string, work: () => Promise<T>): Promise<T> {
  const run = async () => {
    try {
      await setEmulatorEnforcement(endpoint, false);
      return await work();
    } finally {
      await setEmulatorEnforcement(endpoint, true);
    }
  };
  const next = window.then(run, run);
  window = next.catch(() => undefined);
  return next;
}

/** Turns the emulator's IAM enforcement on, as every caller outside a window expects. */
export const enforceEmulatorIam = (endpoint: string) => setEmulatorEnforcement(endpoint, true);

/** Creates (or updates) an account's provisioner role, trusted by the control plane only. */
export function vendEmulatorAccount(options: {
  endpoint: string;
  sts: STSClient;
  accountId: string;
  awsRegion: string;
  controlPlaneArn: string;
}): Promise<void> {
  const provisionerArn = roleArn(options.accountId, PROVISIONER_ROLE);
  return withEnforcementOff(options.endpoint, async () => {
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
      await tolerating(
        () =>
          iam.send(
            new CreateRoleCommand({
              RoleName: PROVISIONER_ROLE,
              AssumeRolePolicyDocument: JSON.stringify(provisionerTrustPolicy(options.controlPlaneArn)),
            }),
          ),
        ['EntityAlreadyExistsException'],
      );
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
  });
}
