/** Names derived from slugs. One place, so the control plane and the data plane agree. */

export const SLUG_PATTERN = /^[a-z][a-z0-9-]{1,18}[a-z0-9]$/;
export const SLUG_RULE = '3 to 20 characters: lowercase letters, digits and hyphens, starting with a letter';

/** Temporal Cloud's longest namespace name; self-hosted Temporal allows more. */
export const NAMESPACE_MAX_LENGTH = 39;
const READABLE_NAMESPACE_LENGTH = NAMESPACE_MAX_LENGTH - 9;

/** The first 8 hex digits of an environment's id: what makes its names its own. */
const idTag = (environmentId: string) => environmentId.replaceAll('-', '').slice(0, 8);

/** `<org>-<env>`, cut to leave room for the id tag: what a person recognizes in a namespace name. */
const readablePart = (organization: string, environment: string) =>
  `${organization}-${environment}`.slice(0, READABLE_NAMESPACE_LENGTH).replace(/-+$/, '');

/**
 * The Temporal namespace of an environment, e.g. `acme-production-1f2e3d4c`. Slugs may hold hyphens,
 * so `<org>-<env>` alone is ambiguous (`x` + `ns-dev` and `x-ns` + `dev`); the environment's id makes
 * the name its own, and the name fits Temporal Cloud's 39 characters with the longest slugs.
 */
export function namespaceOf(organization: string, environment: string, environmentId: string): string {
  return `${readablePart(organization, environment)}-${idTag(environmentId)}`;
}

/** The namespace of an environment created before names carried its id (`legacy_namespace`). */
export function legacyNamespaceOf(organization: string, environment: string): string {
  return `${organization}-${environment}`;
}

/**
 * Whether a namespace can be that environment's, where its id is not known (inside a workflow): its
 * legacy name, or its readable part followed by an id tag.
 */
export function namespaceMayBelongTo(namespace: string, organization: string, environment: string): boolean {
  if (namespace === legacyNamespaceOf(organization, environment)) return true;
  const readable = readablePart(organization, environment);
  return namespace.startsWith(`${readable}-`) && /^[0-9a-f]{8}$/.test(namespace.slice(readable.length + 1));
}

/** A globally unique, DNS-safe bucket name (at most 56 characters with 20-character slugs). */
export function bucketOf(organization: string, environment: string, environmentId: string): string {
  return `tavio-${organization}-${environment}-${idTag(environmentId)}`;
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
