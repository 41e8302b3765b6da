/**
 * How a region's egress gateway knows who is asking. Each environment worker authenticates with a
 * proxy user of its own, named after its environment; each request names its run in a header that
 * the gateway logs and strips before forwarding. The user is authenticated; the run is what the
 * environment's own worker says, so it can only misattribute that environment's own runs.
 */

/** Proxy user names are lower case (the gateway folds case): `e` and the environment id's 32 hex digits. */
export function proxyUserOf(environmentId: string): string {
  return `e${environmentId.replaceAll('-', '').toLowerCase()}`;
}

/** The environment id a proxy user stands for, or undefined when the name is not one. */
export function environmentOfProxyUser(user: string): string | undefined {
  const match = /^e([0-9a-f]{8})([0-9a-f]{4})([0-9a-f]{4})([0-9a-f]{4})([0-9a-f]{12})$/.exec(user);
  return match ? match.slice(1).join('-') : undefined;
}

/** The request header that names the run a request belongs to. */
export const RUN_HEADER = 'x-tavio-run';

/** Workflow ids the control API gives runs are short; anything else is cut, never logged whole. */
const MAX_RUN_TAG = 100;

/** A run's workflow id as the header carries it: printable ASCII without spaces, bounded. */
export function runTag(workflowId: string): string {
  return workflowId.replace(/[^\x21-\x7e]/g, '_').slice(0, MAX_RUN_TAG);
}

/**
 * The gateway's refusal pages by name, and the reason each gives. The name reaches the client in
 * the `X-Squid-Error` header of the gateway's 403, so a worker can say why it was refused.
 */
export const GATEWAY_REFUSALS = {
  TAVIO_ADMIN_PATH: "the path is the storage service's administration API",
  TAVIO_PLATFORM: "the destination is in the platform's own networks",
  TAVIO_RESERVED_ADDRESS: 'the name resolves to a loopback, private, link-local or reserved address',
  TAVIO_NOT_REGISTERED: "the destination is not a host of this environment's connections",
} as const;
