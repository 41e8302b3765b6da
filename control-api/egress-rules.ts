import { isIP } from 'node:net';
import { and, eq, isNull } from 'drizzle-orm';
import type { Database } from '../db/client.js';
import { connections, environments, webhookEndpoints } from '../db/schema.js';
import { unbracketed } from '../common/address-rules.js';
import { environmentOfProxyUser } from '../common/gateway-identity.js';
import type { RegionSettings } from '../common/regions.js';
import { endpoint, portOf } from './platform-services.js';

/**
 * What a region's egress gateway lets an environment reach: the hosts and ports of that
 * environment's connections and webhook endpoints, and its region's S3/KMS endpoint. The gateway asks per destination
 * (and caches the answer a few seconds), so a connection is reachable as soon as it exists and
 * unreachable once its environment is retired.
 *
 * A destination is judged in the form it was registered in. `address` asks about an IP literal:
 * only a connection registered with that very address (or the storage endpoint) allows it, which
 * is how a customer system in a private or loopback range is reached on purpose. `name` asks about
 * a DNS name: a connection registered with that name allows it, and the gateway then refuses it
 * anyway when the name resolves into the platform's or a reserved range.
 */
export type DestinationKind = 'address' | 'name';

export interface EgressQuestion {
  user: string;
  host: string;
  port: number;
  kind: DestinationKind;
}

export interface EgressDecision {
  allow: boolean;
  reason: string;
}

const deny = (reason: string): EgressDecision => ({ allow: false, reason });

const isAddress = (host: string): boolean => isIP(unbracketed(host)) !== 0;

export async function decideEgress(
  db: Database,
  region: RegionSettings,
  question: EgressQuestion,
): Promise<EgressDecision> {
  const environmentId = environmentOfProxyUser(question.user);
  if (!environmentId) return deny('not an environment of this gateway');
  if (isAddress(question.host) !== (question.kind === 'address'))
    return deny(`${question.host} is not ${question.kind === 'address' ? 'an address' : 'a name'}`);
  const [env] = await db
    .select({ id: environments.id })
    .from(environments)
    .where(
      and(
        eq(environments.id, environmentId),
        eq(environments.region, region.code),
        eq(environments.status, 'active'),
      ),
    );
  if (!env) return deny('no active environment of this region');
  const wanted = endpoint(question.host, question.port);
  if (question.kind === 'address' && region.awsEndpoint && endpointOf(region.awsEndpoint) === wanted)
    return { allow: true, reason: "the region's storage and key service" };
  const rows = await db
    .select({ id: connections.id, baseUrl: connections.baseUrl })
    .from(connections)
    .where(eq(connections.environmentId, env.id));
  const matches = (target: string) =>
    isAddress(new URL(target).hostname) === (question.kind === 'address') && endpointOf(target) === wanted;
  const match = rows.find((row) => matches(row.baseUrl));
  if (match) return { allow: true, reason: `connection ${match.id}` };
  // The environment's webhook endpoints are reached as its connections are, by the same rules.
  const hooks = await db
    .select({ id: webhookEndpoints.id, url: webhookEndpoints.url })
    .from(webhookEndpoints)
    .where(and(eq(webhookEndpoints.environmentId, env.id), isNull(webhookEndpoints.deletedAt)));
  const hook = hooks.find((row) => matches(row.url));
  return hook
    ? { allow: true, reason: `webhook endpoint ${hook.id}` }
    : deny(`${wanted} is not a host of this environment's connections or webhook endpoints`);
}

function endpointOf(baseUrl: string): string {
  const url = new URL(baseUrl);
  return endpoint(url.hostname, portOf(url)!);
}
