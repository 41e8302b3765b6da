import { isIP } from 'node:net';

/**
 * Names and nftables rules of the environment worker sandbox; no side effects here (see
 * sandbox.ts for what applies them).
 */

/** Every sandbox user's name starts with this, then the region's gateway code. */
export const SANDBOX_USER_PREFIX = 'tv-';
const GATEWAY_CODE = /^[a-z]{2}\d$/;
const UUID_HEX = /^[0-9a-f]{32}$/;

function checkedGateway(gateway: string): string {
  if (!GATEWAY_CODE.test(gateway)) throw new Error(`not a gateway code: ${JSON.stringify(gateway)}`);
  return gateway;
}

/**
 * The OS user of an environment's worker: `tv-<gateway>-<16 hex of the environment id>`, stable for
 * the environment, marked with its region, and well under Linux's 32 characters.
 */
export function sandboxUserName(gateway: string, environmentId: string): string {
  const hex = environmentId.toLowerCase().replace(/-/g, '');
  if (!UUID_HEX.test(hex)) throw new Error(`not an environment id: ${JSON.stringify(environmentId)}`);
  return `${SANDBOX_USER_PREFIX}${checkedGateway(gateway)}-${hex.slice(0, 16)}`;
}

/** True for the name of a sandbox user of the region with this gateway code. */
export function isSandboxUserOf(gateway: string, name: string): boolean {
  return new RegExp(`^${SANDBOX_USER_PREFIX}${checkedGateway(gateway)}-[0-9a-f]{16}$`).test(name);
}

/** The nftables table (family inet) of the region host with this gateway code. */
export const sandboxTableName = (gateway: string): string => `tavio_${checkedGateway(gateway)}`;

/** Names of the sets inside a sandbox table. */
export const WORKERS_SET = 'workers';
export const GATEWAY_CONNECTIONS_SET = 'gateway_connections';

/** An address a worker may open TCP connections to. */
export interface Endpoint {
  address: string;
  port: number;
}

export interface SandboxRules {
  table: string;
  /** The Temporal frontend. */
  temporal: Endpoint[];
  /** The region's gateway; each worker may hold at most `gatewayConnectionLimit` connections to it. */
  gateway: Endpoint[];
  gatewayConnectionLimit: number;
}

function match({ address, port }: Endpoint): string {
  const family = isIP(address);
  if (family === 0) throw new Error(`not an IP address: ${JSON.stringify(address)}`);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`not a TCP port: ${port}`);
  return `${family === 4 ? 'ip' : 'ip6'} daddr ${address} tcp dport ${port}`;
}

/**
 * The `nft -f` script that (re)creates a region host's table. Packets of sockets owned by a uid in
 * the `workers` set go through the `worker` chain: TCP to the Temporal frontend and to the
 * region's gateway passes, any other TCP connection is reset, and anything else (UDP, ICMP, other
 * protocols) is rejected. The output hook sees loopback traffic too, so this also covers the
 * services on 127.0.0.1. A table of the same name left by an earlier host is replaced in the same
 * transaction.
 *
 * Matching the socket owner was chosen over a network namespace and veth pair per worker: the
 * kernel enforces both alike, and owner matching needs no addresses, routes or NAT per worker.
 * What it does not cover is what a namespace would also separate: abstract Unix sockets.
 */
export function tableScript(rules: SandboxRules): string {
  const { gatewayConnectionLimit: limit } = rules;
  const table = checkedTable(rules.table);
  if (!Number.isInteger(limit) || limit < 1) throw new Error(`not a connection limit: ${limit}`);
  const gateway = rules.gateway.map(match);
  const temporal = rules.temporal.map(match);
  if (gateway.length === 0 || temporal.length === 0) throw new Error('no gateway or Temporal address');
  return [
    `table inet ${table} {}`,
    `delete table inet ${table}`,
    `table inet ${table} {`,
    `  set ${WORKERS_SET} {`,
    `    type uid`,
    `  }`,
    `  set ${GATEWAY_CONNECTIONS_SET} {`,
    `    type uid`,
    `    size 65535`,
    `    flags dynamic`,
    `  }`,
    `  chain output {`,
    `    type filter hook output priority filter; policy accept;`,
    `    meta skuid @${WORKERS_SET} jump worker`,
    `  }`,
    `  chain worker {`,
    ...gateway.map(
      (m) =>
        `    ${m} ct state new add @${GATEWAY_CONNECTIONS_SET} { meta skuid ct count over ${limit} } reject with tcp reset`,
    ),
    ...[...gateway, ...temporal].map((m) => `    ${m} accept`),
    `    meta l4proto tcp reject with tcp reset`,
    `    reject with icmpx admin-prohibited`,
    `  }`,
    `}`,
    '',
  ].join('\n');
}

/** Adds a worker's uid to the table's set; adding one already there changes nothing. */
export const addUidScript = (table: string, uid: number): string =>
  `add element inet ${checkedTable(table)} ${WORKERS_SET} { ${checkedUid(uid)} }\n`;

/**
 * Removes a worker's uid from the table's set and forgets its gateway connection count. Each
 * element is added first, so that removing one that is absent is not an error.
 */
export function removeUidScript(table: string, uid: number): string {
  checkedTable(table);
  return [WORKERS_SET, GATEWAY_CONNECTIONS_SET]
    .flatMap((set) => [
      `add element inet ${table} ${set} { ${checkedUid(uid)} }`,
      `delete element inet ${table} ${set} { ${uid} }`,
    ])
    .concat('')
    .join('\n');
}

function checkedUid(uid: number): number {
  // Root is never sandboxed: uid 0 in the set would cut the host itself off.
  if (!Number.isInteger(uid) || uid < 1) throw new Error(`not a sandbox uid: ${uid}`);
  return uid;
}

function checkedTable(table: string): string {
  if (!/^[a-z][a-z0-9_]*$/.test(table)) throw new Error(`not a table name: ${JSON.stringify(table)}`);
  return table;
}
