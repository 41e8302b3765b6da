import { isIP } from 'node:net';
import { and, eq, isNull } from 'drizzle-orm';
import type { ControlApiConfig } from '../../common/config.js';
import { addressRules, judgeAddress, parseAddress, unbracketed } from '../../common/address-rules.js';
import { generateWebhookSecret } from '../../common/webhook-signature.js';
import { SEALED_URL, webhookSecretName } from '../../common/webhooks.js';
import type { WebhookEvent } from '../../common/webhooks.js';
import type { Database } from '../../db/client.js';
import { webhookEndpoints } from '../../db/schema.js';
import type { environments } from '../../db/schema.js';
import type { AccountAccess } from '../provisioning/account-access.js';
import { connectionHostRefusal } from '../connection-hosts.js';
import type { HostRefusal, Resolve } from '../connection-hosts.js';
import { notFound, unprocessable } from '../problems.js';
import { sealCredentials } from '../vault.js';
import type { SealTarget } from '../vault.js';

type Env = typeof environments.$inferSelect;
type EndpointRow = typeof webhookEndpoints.$inferSelect;

export const endpointView = (row: EndpointRow) => ({
  id: row.id,
  url: row.url,
  events: row.events as WebhookEvent[],
  description: row.description,
  secretVersion: row.secretVersion,
  createdAt: row.createdAt.toISOString(),
  updatedAt: row.updatedAt.toISOString(),
  deletedAt: row.deletedAt?.toISOString() ?? null,
});

/**
 * Plain HTTP only to a customer network's address literal (the local fixtures, a receiver behind a
 * VPN): anywhere else the signed payload and its links would cross the internet in clear.
 */
function plainHttpAllowed(config: ControlApiConfig, url: URL): boolean {
  const host = unbracketed(url.hostname);
  if (isIP(host) === 0) return false;
  const rules = addressRules({ platform: config.platformNetworks, customer: config.customerNetworks });
  const address = parseAddress(host);
  return (
    judgeAddress(address, rules) === undefined &&
    rules.customer.some(
      ([network, bits]) => network.kind() === address.kind() && address.match(network, bits),
    )
  );
}

/**
 * A connection's refusal in a webhook's words: a webhook has no credentials to send a secret as;
 * the receiver authenticates deliveries by their signature.
 */
function webhookRefusalDetail(refusal: HostRefusal): string {
  if (refusal.reason !== 'secret in query' && refusal.reason !== 'userinfo') return refusal.detail;
  return refusal.detail.replace(
    /; send (it|them) as the connection's credentials$/,
    '; a webhook URL carries no credentials: receivers verify each delivery by its signature',
  );
}

/**
 * Refuses a URL an endpoint may not use, as 422 `webhook-url-refused` naming `url`: https only
 * (except a customer network's address), and then every rule a connection's base URL obeys (no
 * platform service, metadata, link-local or reserved address, no credentials in the URL).
 */
export async function assertWebhookUrlAllowed(
  config: ControlApiConfig,
  url: string,
  resolve?: Resolve,
): Promise<void> {
  const parsed = new URL(url);
  if (parsed.protocol !== 'https:' && !(parsed.protocol === 'http:' && plainHttpAllowed(config, parsed)))
    throw unprocessable(
      'webhook-url-refused',
      `url: ${parsed.protocol}//${parsed.host} is not https; webhooks leave over https only (plain http only to an address of the allowed customer networks)`,
    );
  const refusal = await connectionHostRefusal(config, url, resolve);
  if (refusal) throw unprocessable('webhook-url-refused', `url: ${webhookRefusalDetail(refusal)}`);
}

/**
 * Seals `secret` (a new one by default) and the URL for the endpoint, bound to its URL's host, into
 * the environment's bucket; answers the secret, to be shown once. The control database never holds
 * it. The URL is sealed too because it may itself be a credential (a token in its path): delivery
 * workflows name the endpoint, and their activity reads the URL from here, so it never enters a
 * Temporal payload.
 */
export async function sealSigningSecret(
  accounts: AccountAccess,
  vault: SealTarget,
  endpointId: string,
  url: string,
  secret: string = generateWebhookSecret(),
): Promise<string> {
  await sealCredentials(accounts, vault, webhookSecretName(endpointId), url, {
    signingSecret: secret,
    [SEALED_URL]: url,
  });
  return secret;
}

/** An endpoint of the environment that is not deleted, or 404. */
export async function liveEndpoint(db: Database, env: Env, endpointId: string): Promise<EndpointRow> {
  const [row] = await db
    .select()
    .from(webhookEndpoints)
    .where(
      and(
        eq(webhookEndpoints.id, endpointId),
        eq(webhookEndpoints.environmentId, env.id),
        isNull(webhookEndpoints.deletedAt),
      ),
    );
  if (!row) throw notFound(`webhook endpoint ${endpointId}`);
  return row;
}
