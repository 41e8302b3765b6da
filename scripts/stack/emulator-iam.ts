import { IAMClient } from '@aws-sdk/client-iam';
import { ensureProvisionerRole } from '../../control-api/provisioning/account-bootstrap.js';

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
 * An IAM client acting in `accountId` on the emulator. Only inside `withEnforcementOff`: there, a
 * header names the account each call acts in.
 */
export function emulatorIamIn(endpoint: string, accountId: string): IAMClient {
  const iam = new IAMClient({
    region: 'us-east-1',
    endpoint,
    credentials: { accessKeyId: 'bootstrap', secretAccessKey: 'bootstrap' },
  });
  iam.middlewareStack.add(
    (next) => (args) => {
      (args.request as { headers: Record<string, string> }).headers['x-moto-account-id'] = accountId;
      return next(args);
    },
    { step: 'build', name: 'tavioAccountHeader' },
  );
  return iam;
}

/**
 * Creates (or updates) an account's provisioner role, trusted by the control plane only. Only
 * inside `withEnforcementOff`: the account has no identity yet that could be authorized to do it.
 */
export async function createProvisionerRole(options: {
  endpoint: string;
  accountId: string;
  controlPlaneArn: string;
}): Promise<void> {
  const iam = emulatorIamIn(options.endpoint, options.accountId);
  try {
    await ensureProvisionerRole(iam, options.accountId, options.controlPlaneArn);
  } finally {
    iam.destroy();
  }
}
