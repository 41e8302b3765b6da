import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { ControlApiConfig } from '../common/config.js';
import {
  ADDRESS_REFUSALS,
  addressRules,
  judgeAddress,
  parseAddress,
  unbracketed,
} from '../common/address-rules.js';
import type { Address, AddressRefusal } from '../common/address-rules.js';
import { endpoint, platformServices, portOf } from './platform-services.js';
import { unprocessable } from './problems.js';

/**
 * A connection may point at a customer's or a vendor's system, never at the platform's own
 * services, cloud metadata or the hosts around it: a run's traffic would otherwise have a path into
 * the control plane. Hosts are judged by the addresses they reach, not by how they are spelled.
 */

export type HostRefusalReason =
  'userinfo' | 'secret in query' | 'scheme' | 'unresolvable' | 'platform service' | AddressRefusal;

export interface HostRefusal {
  reason: HostRefusalReason;
  /** Starts with the reason; names the host or the parameter, never a secret value. */
  detail: string;
}

/** Every address a name resolves to; the check judges them all, as a connect may use any. */
export type Resolve = (hostname: string) => Promise<string[]>;

export const resolveWithDns: Resolve = async (hostname) =>
  (await lookup(hostname, { all: true, verbatim: true })).map((entry) => entry.address);

/** Query parameters that carry secrets, compared without case or separators (`api-key`, `API_KEY`). */
const SECRET_PARAMETERS = new Set([
  'key',
  'apikey',
  'token',
  'accesstoken',
  'secret',
  'clientsecret',
  'password',
  'pass',
  'pwd',
  'signature',
  'sig',
  'auth',
  'credential',
  'credentials',
]);
/** Endings that mark a secret whatever comes before them (`x-api-key`, `refresh_token`, `X-Amz-Signature`). */
const SECRET_ENDINGS = ['apikey', 'token', 'secret', 'password', 'signature', 'credential', 'credentials'];

function isSecretParameter(name: string): boolean {
  const squashed = name.toLowerCase().replace(/[^a-z0-9]/g, '');
  return SECRET_PARAMETERS.has(squashed) || SECRET_ENDINGS.some((ending) => squashed.endsWith(ending));
}

const WHAT: Record<AddressRefusal, string> = {
  platform: "in the platform's own networks",
  metadata: 'a cloud metadata address',
  'link-local': 'a link-local address',
  unspecified: 'an unspecified address, which means this host',
  loopback: 'a loopback address outside the allowed customer networks',
  private: 'a private address outside the allowed customer networks',
  multicast: 'a multicast address',
  broadcast: 'the broadcast address',
  reserved: 'a reserved or special-purpose address',
};

const refused = (reason: HostRefusalReason, why: string): HostRefusal => ({
  reason,
  detail: `${reason}: ${why}`,
});

/** What the URL itself gives away: the base URL is metadata, stored and shown, never a secret. */
function urlRefusal(url: URL): HostRefusal | undefined {
  if (url.username || url.password)
    return refused(
      'userinfo',
      "the URL carries a user name or password; send them as the connection's credentials",
    );
  const secret = [...url.searchParams.keys()].find(isSecretParameter);
  if (secret !== undefined)
    return refused(
      'secret in query',
      `query parameter ${secret} looks like a secret; send it as the connection's credentials`,
    );
  if (url.protocol !== 'http:' && url.protocol !== 'https:' && url.protocol !== 'sftp:')
    return refused('scheme', `${url.protocol} is not http:, https: or sftp:`);
  return undefined;
}

/** The addresses a host reaches, IPv4 carried in IPv6 unwrapped; a refusal when there are none. */
async function addressesOf(url: URL, resolve: Resolve): Promise<Address[] | HostRefusal> {
  // The URL parser has already rewritten 2130706433, 0x7f000001 and 0177.0.0.1 as 127.0.0.1.
  const hostname = unbracketed(url.hostname);
  try {
    const addresses = (isIP(hostname) ? [hostname] : await resolve(hostname)).map(parseAddress);
    return addresses.length > 0
      ? addresses
      : refused('unresolvable', `${url.hostname} resolves to no address`);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'not an address';
    return refused('unresolvable', `${url.hostname} does not resolve (${code})`);
  }
}

/** The platform service a host:port reaches, by any of its addresses or by its name. */
function platformServiceRefusal(config: ControlApiConfig, url: URL, addresses: Address[]) {
  const port = portOf(url)!;
  const spelled = endpoint(unbracketed(url.hostname), port);
  const reached = new Set([spelled, ...addresses.map((a) => endpoint(a.toString(), port))]);
  const service = platformServices(config).find((s) => reached.has(s.endpoint));
  if (!service) return undefined;
  const subject =
    service.endpoint === spelled ? `${url.host} is` : `${url.host} reaches ${service.endpoint},`;
  return refused('platform service', `${subject} ${service.name}`);
}

/** A name with any refused address is refused, under the first rule any of its addresses breaks. */
function addressRefusal(config: ControlApiConfig, url: URL, addresses: Address[]) {
  const rules = addressRules({ platform: config.platformNetworks, customer: config.customerNetworks });
  const [first] = addresses
    .map((address) => ({ address: address.toString(), reason: judgeAddress(address, rules) }))
    .filter((verdict): verdict is { address: string; reason: AddressRefusal } => verdict.reason !== undefined)
    .sort((a, b) => ADDRESS_REFUSALS.indexOf(a.reason) - ADDRESS_REFUSALS.indexOf(b.reason));
  if (!first) return undefined;
  const subject =
    unbracketed(url.hostname) === first.address ? `${url.host} is` : `${url.host} reaches ${first.address},`;
  return refused(first.reason, `${subject} ${WHAT[first.reason]}`);
}

/** Why a connection may not use this base URL, or undefined when it may. */
export async function connectionHostRefusal(
  config: ControlApiConfig,
  baseUrl: string,
  resolve: Resolve = resolveWithDns,
): Promise<HostRefusal | undefined> {
  const url = new URL(baseUrl);
  const refusal = urlRefusal(url);
  if (refusal) return refusal;
  const addresses = await addressesOf(url, resolve);
  if (!Array.isArray(addresses)) return addresses;
  return platformServiceRefusal(config, url, addresses) ?? addressRefusal(config, url, addresses);
}

/** Refuses a base URL a connection may not use: 422 `connection-host-refused`, detail led by the reason. */
export async function assertConnectionHostAllowed(
  config: ControlApiConfig,
  baseUrl: string,
  resolve?: Resolve,
): Promise<void> {
  const refusal = await connectionHostRefusal(config, baseUrl, resolve);
  if (refusal) throw unprocessable('connection-host-refused', refusal.detail);
}
