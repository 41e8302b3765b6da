/** Names derived from slugs. One place, so the control plane and the data plane agree. */

export const SLUG_PATTERN = /^[a-z][a-z0-9-]{1,18}[a-z0-9]$/;
export const SLUG_RULE = '3 to 20 characters: lowercase letters, digits and hyphens, starting with a letter';

/** The Temporal namespace of an environment, e.g. `acme-production`. */
export function namespaceOf(organization: string, environment: string): string {
  return `${organization}-${environment}`;
}

/** A globally unique, DNS-safe bucket name (at most 56 characters with 20-character slugs). */
export function bucketOf(organization: string, environment: string, environmentId: string): string {
  return `tavio-${organization}-${environment}-${environmentId.replaceAll('-', '').slice(0, 8)}`;
}

export function keyAliasOf(organization: string, environment: string): string {
  return `alias/tavio/${organization}/${environment}`;
}

export const DATAPLANE_ROLE = 'tavio-dataplane';

/** The IAM path of data-plane roles served by a gateway's host: a host may assume roles under its own path only. */
export const dataplaneRolePath = (gateway: string) => `/${gateway}/`;

export function dataplaneRoleArn(accountId: string, gateway: string): string {
  return `arn:aws:iam::${accountId}:role${dataplaneRolePath(gateway)}${DATAPLANE_ROLE}`;
}
export const PROVISIONER_ROLE = 'tavio-provisioner';

export function roleArn(accountId: string, role: string): string {
  return `arn:aws:iam::${accountId}:role/${role}`;
}

/** The control plane's principal, in the control account: the only one that may assume provisioner roles. */
export function controlPlaneArn(controlAccountId: string): string {
  return `arn:aws:iam::${controlAccountId}:role/tavio-control-plane`;
}

/** The principal of a region's worker host, in the control account: the only one that may assume data-plane roles. */
export function hostRoleArn(controlAccountId: string, gateway: string): string {
  return `arn:aws:iam::${controlAccountId}:role/tavio-host-${gateway}`;
}

/**
 * What the vault seals per connection: the one host it may reach (`host:port`) and its secrets.
 * Sealing the host with the secrets lets a worker check a run's URLs against what the control
 * plane recorded, without trusting the run's own arguments.
 */
export interface SealedConnection {
  host: string;
  secrets: Record<string, string>;
}
