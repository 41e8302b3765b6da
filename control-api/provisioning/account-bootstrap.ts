import { CreateRoleCommand, PutRolePolicyCommand } from '@aws-sdk/client-iam';
import type { IAMClient } from '@aws-sdk/client-iam';
import { tolerating } from '../../common/aws-errors.js';
import { PROVISIONER_ROLE, roleArn } from '../../common/names.js';
import { provisionerPermissions, provisionerTrustPolicy } from './policies.js';

/**
 * Creates (or updates) an environment account's provisioner role, trusted by the control plane
 * only: what the control plane assumes for everything it makes there. `iam` acts in that account,
 * as the first identity that may create roles in it (the organization's access role on AWS).
 */
export async function ensureProvisionerRole(
  iam: Pick<IAMClient, 'send'>,
  accountId: string,
  controlPlaneArn: string,
): Promise<void> {
  await tolerating(
    () =>
      iam.send(
        new CreateRoleCommand({
          RoleName: PROVISIONER_ROLE,
          AssumeRolePolicyDocument: JSON.stringify(provisionerTrustPolicy(controlPlaneArn)),
        }),
      ),
    ['EntityAlreadyExistsException'],
  );
  await iam.send(
    new PutRolePolicyCommand({
      RoleName: PROVISIONER_ROLE,
      PolicyName: 'provision-environment',
      PolicyDocument: JSON.stringify(provisionerPermissions(accountId, roleArn(accountId, PROVISIONER_ROLE))),
    }),
  );
}
