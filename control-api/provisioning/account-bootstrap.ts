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
import type { IAMClient } from '@aws-sdk/client-iam';
import { tolerating } from '../../common/aws-errors.js';
import { PROVISIONER_ROLE, roleArn } from '../../common/names.js';
import { provisionerPermissions, provisionerTrustPolicy } from './policies.js';
import type { PolicyDocument } from './policies.js';

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

/** The provisioner role's inline policy that lets it remove the organization's access role. */
export const ACCESS_ROLE_REMOVAL_POLICY = 'remove-organization-access-role';

/**
 * What the provisioner role may do to the organization's access role: see whether it is there, and
 * take it apart (its policies, then the role). Nothing that grants or changes a permission.
 */
export function accessRoleRemovalPermissions(accountId: string, accessRoleName: string): PolicyDocument {
  return {
    Version: '2012-10-17',
    Statement: [
      // IAM authorizes listing roles against `*` only.
      { Sid: 'FindAccessRole', Effect: 'Allow', Action: ['iam:ListRoles'], Resource: ['*'] },
      {
        Sid: 'RemoveAccessRole',
        Effect: 'Allow',
        Action: [
          'iam:GetRole',
          'iam:ListAttachedRolePolicies',
          'iam:ListRolePolicies',
          'iam:DetachRolePolicy',
          'iam:DeleteRolePolicy',
          'iam:DeleteRole',
        ],
        Resource: [roleArn(accountId, accessRoleName)],
      },
    ],
  };
}

/** Gives the provisioner role (made by `ensureProvisionerRole`) the right to remove the access role. */
export async function allowAccessRoleRemoval(
  iam: Pick<IAMClient, 'send'>,
  accountId: string,
  accessRoleName: string,
): Promise<void> {
  await iam.send(
    new PutRolePolicyCommand({
      RoleName: PROVISIONER_ROLE,
      PolicyName: ACCESS_ROLE_REMOVAL_POLICY,
      PolicyDocument: JSON.stringify(accessRoleRemovalPermissions(accountId, accessRoleName)),
    }),
  );
}

/** Whether the account has a role of that name (`iam` lists the account's roles). */
export async function roleExists(iam: Pick<IAMClient, 'send'>, roleName: string): Promise<boolean> {
  let Marker: string | undefined;
  do {
    const page = await iam.send(new ListRolesCommand({ Marker }));
    if (page.Roles?.some((role) => role.RoleName === roleName)) return true;
    Marker = page.IsTruncated ? page.Marker : undefined;
  } while (Marker);
  return false;
}

/**
 * Deletes a role the way IAM requires: its managed policies detached, its inline policies deleted,
 * then the role. Each step is done when its object is gone already, so a repeat finishes the work.
 */
export async function deleteRole(iam: Pick<IAMClient, 'send'>, RoleName: string): Promise<void> {
  const gone = ['NoSuchEntityException'];
  for (;;) {
    const page = await tolerating(() => iam.send(new ListAttachedRolePoliciesCommand({ RoleName })), gone);
    const attached = page?.AttachedPolicies ?? [];
    for (const { PolicyArn } of attached)
      await tolerating(() => iam.send(new DetachRolePolicyCommand({ RoleName, PolicyArn })), gone);
    if (!page?.IsTruncated) break;
  }
  for (;;) {
    const page = await tolerating(() => iam.send(new ListRolePoliciesCommand({ RoleName })), gone);
    for (const PolicyName of page?.PolicyNames ?? [])
      await tolerating(() => iam.send(new DeleteRolePolicyCommand({ RoleName, PolicyName })), gone);
    if (!page?.IsTruncated) break;
  }
  await tolerating(() => iam.send(new DeleteRoleCommand({ RoleName })), gone);
}
