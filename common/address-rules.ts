import ipaddr from 'ipaddr.js';

/**
 * Which IP addresses a connection may reach, judged by address and never by spelling. Pure: the
 * control API resolves names and hands every address here (`control-api/connection-hosts.ts`).
 */

export type Address = ipaddr.IPv4 | ipaddr.IPv6;
type Network = [Address, number];

/** Why an address is refused, in the order the rules apply: the first that matches names it. */
export const ADDRESS_REFUSALS = [
  'platform',
  'metadata',
  'link-local',
  'unspecified',
  'loopback',
  'private',
  'multicast',
  'broadcast',
  'reserved',
] as const;
export type AddressRefusal = (typeof ADDRESS_REFUSALS)[number];

/** The networks a deployment names, parsed from the canonical CIDRs of its configuration. */
export interface AddressRules {
  platform: readonly Network[];
  /** Loopback and private ranges where customer systems live; only those two refusals are lifted. */
  customer: readonly Network[];
}

/** Cloud metadata services; link-local or private too, named apart because they hand out credentials. */
const METADATA: readonly Network[] = [
  [ipaddr.parse('169.254.169.254'), 32],
  [ipaddr.parse('fd00:ec2::254'), 128],
];

const NAT64: Network = [ipaddr.parse('64:ff9b::'), 96];

const PRIVATE_RANGES = new Set(['private', 'carrierGradeNat', 'uniqueLocal']);

const inNetworks = (address: Address, networks: readonly Network[]) =>
  networks.some(([network, bits]) => network.kind() === address.kind() && address.match(network, bits));

/**
 * The IPv4 address an IPv6 one carries, when the kernel or a translator would deliver it there:
 * IPv4-mapped (`::ffff:a.b.c.d`, also written `::ffff:7f00:1`), IPv4-translated, IPv4-compatible
 * (`::a.b.c.d`) and NAT64 (`64:ff9b::a.b.c.d`). Any other address is returned as it is.
 */
export function effectiveAddress(address: Address): Address {
  if (address.kind() === 'ipv4') return address;
  const v6 = address as ipaddr.IPv6;
  const [g, h] = [v6.parts[6]!, v6.parts[7]!];
  const embedded = () => ipaddr.fromByteArray([g >> 8, g & 0xff, h >> 8, h & 0xff]);
  const range = v6.range();
  if (range === 'ipv4Mapped' || range === 'rfc6145' || v6.match(NAT64)) return embedded();
  const compatible = v6.parts.slice(0, 6).every((part) => part === 0);
  // :: and ::1 are IPv6's own unspecified and loopback addresses, not IPv4 ones.
  if (compatible && (g !== 0 || h > 1)) return embedded();
  return address;
}

/** A URL's hostname without the brackets of an IPv6 literal. */
export const unbracketed = (hostname: string): string => hostname.replace(/^\[(.*)\]$/, '$1');

/** Parses an address as written by a URL parser (IPv6 in brackets) or a resolver (without). */
export function parseAddress(text: string): Address {
  return effectiveAddress(ipaddr.parse(unbracketed(text)));
}

/** Whether an address (as a URL parser or a socket gives it) lies in the platform's networks. */
export function isPlatformAddress(text: string, rules: AddressRules): boolean {
  try {
    return inNetworks(parseAddress(text), rules.platform);
  } catch {
    return false;
  }
}

/** Why the address is refused, or undefined when a connection may reach it. */
export function judgeAddress(address: Address, rules: AddressRules): AddressRefusal | undefined {
  const ip = effectiveAddress(address);
  if (inNetworks(ip, rules.platform)) return 'platform';
  if (inNetworks(ip, METADATA)) return 'metadata';
  const range: string = ip.range();
  if (range === 'linkLocal') return 'link-local';
  if (range === 'unspecified') return 'unspecified';
  if (range === 'loopback') return inNetworks(ip, rules.customer) ? undefined : 'loopback';
  if (PRIVATE_RANGES.has(range)) return inNetworks(ip, rules.customer) ? undefined : 'private';
  if (range === 'multicast' || range === 'broadcast') return range;
  // Everything else ipaddr.js names (documentation, benchmarking, 6to4, Teredo, ...) is not a
  // place a customer's system lives.
  return range === 'unicast' ? undefined : 'reserved';
}

/** A CIDR in canonical form (network address/prefix), or undefined when the text is not a CIDR. */
export function canonicalNetwork(cidr: string): string | undefined {
  if (!ipaddr.isValidCIDR(cidr)) return undefined;
  let [address, bits] = ipaddr.parseCIDR(cidr);
  if (address.kind() === 'ipv6' && (address as ipaddr.IPv6).isIPv4MappedAddress() && bits >= 96) {
    // Addresses are judged as the IPv4 they carry, so a mapped network must be written as IPv4 too.
    [address, bits] = [(address as ipaddr.IPv6).toIPv4Address(), bits - 96];
  }
  const network =
    address.kind() === 'ipv4'
      ? ipaddr.IPv4.networkAddressFromCIDR(`${address.toString()}/${bits}`)
      : ipaddr.IPv6.networkAddressFromCIDR(`${address.toString()}/${bits}`);
  return `${network.toString()}/${bits}`;
}

/**
 * Why a canonical CIDR cannot be a customer network, or undefined when it can: only loopback and
 * private ranges need allowing, and a wider one (0.0.0.0/0) would quietly lift every refusal.
 */
export function customerNetworkProblem(cidr: string): string | undefined {
  const [address, bits] = ipaddr.parseCIDR(cidr);
  const family = address.kind() === 'ipv4' ? ipaddr.IPv4 : ipaddr.IPv6;
  const ends = [family.networkAddressFromCIDR(cidr), family.broadcastAddressFromCIDR(cidr)];
  const allowable = (ip: Address) => ip.range() === 'loopback' || PRIVATE_RANGES.has(ip.range());
  // The loopback and private ranges are far apart, so a block whose two ends lie in them lies in one.
  if (ends.every(allowable) && ends[0]!.range() === ends[1]!.range()) return undefined;
  return `${address.toString()}/${bits} is not inside a loopback or private range`;
}

/** Parses canonical CIDRs (as the configuration holds them) into rules. */
export function addressRules(networks: {
  platform: readonly string[];
  customer: readonly string[];
}): AddressRules {
  return {
    platform: networks.platform.map((cidr) => ipaddr.parseCIDR(cidr)),
    customer: networks.customer.map((cidr) => ipaddr.parseCIDR(cidr)),
  };
}
