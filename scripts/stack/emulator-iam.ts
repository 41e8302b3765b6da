import { CreateRoleCommand, IAMClient, PutRolePolicyCommand } from '@aws-sdk/client-iam';
import { tolerating } from '../../common/aws-errors.js';
import { PROVISIONER_ROLE, roleArn } from '../../common/names.js';
import { provisionerPermissions, provisionerTrustPolicy } from '../../control-api/provisioning/policies.js';

/**
 * The local S3/KMS/IAM service enforces IAM policies, but it cannot authorize the first identity
 * of an account. The stack creates those identities (the control account's users, and the
 * provisioner role of each pooled environment account) at `stack up`, in one window with
 * enforcement off, before any tenant process runs; the platform never opens such a window.
 */

async function setEmulatorEnforcement(endpoint: string, enforce: boolean): Promise<void> {
  const response = await fetch(new URL('/moto-api/reset-auth', endpoint), {
    method: 'POST',
    body: enforce ? '0' : 'inf',
  });
  if (!response.ok)
    throw new Error(`the S3/KMS service at ${endpoint} refused reset-auth: ${response.status}`);
}

/** Runs `work` with the emulator's IAM enforcement off, and turns it on again however it ends. */
export async function withEnforcementOff<T>(endpoint: string, work: () => Promise<T>): Promise<T> {
  try {
    await setEmulatorEnforcement(endpoint, false);
    return await work();
  } finally {
    await setEmulatorEnforcement(endpoint, true);
  }
}

/** Turns the emulator's IAM enforcement on, as every caller outside a window expects. */
export const enforceEmulatorIam = (endpoint: string) => setEmulatorEnforcement(endpoint, true);

/**
 * Creates (or updates) an account's provisioner role, trusted by the control plane only. Only
 * inside `withEnforcementOff`: the account has no identity yet that could be authorized to do it.
 */
export async function createProvisionerRole(options: {
  endpoint: string;
  accountId: string;
  controlPlaneArn: string;
}): Promise<void> {
  // With enforcement off, the header names the account each call acts in.
  const iam = new IAMClient({
    region: 'us-east-1',
    endpoint: options.endpoint,
    credentials: { accessKeyId: 'bootstrap', secretAccessKey: 'bootstrap' },
  });
  iam.middlewareStack.add(
    (next) => (args) => {
      (args.request as { headers: Record<string, string> }).headers['x-moto-account-id'] = options.accountId;
      return next(args);
    },
    { step: 'build', name: 'tavioAccountHeader' },
  );
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
        PolicyDocument: JSON.stringify(
          provisionerPermissions(options.accountId, roleArn(options.accountId, PROVISIONER_ROLE)),
        ),
      }),
    );
  } finally {
    iam.destroy();
  }
}
