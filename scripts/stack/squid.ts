import { join } from 'node:path';
import { GATEWAY_REFUSALS } from '../../common/gateway-identity.js';

export { GATEWAY_REFUSALS };

/**
 * A region gateway's Squid configuration. Every request must authenticate as an environment's
 * proxy user; what that environment may reach is asked of the control API through the external
 * ACL helper `gateway/egress-acl.ts`, per destination; Squid resolves names itself and refuses
 * the platform's and reserved ranges for destinations registered by name. One log line per request
 * names the environment and the run, without query strings.
 */

export interface SquidSettings {
  code: string;
  port: number;
  /** The gateway's own folder: configuration, password file, control file, logs. */
  dir: string;
  /** The command that runs `gateway/egress-acl.ts` (node with its loader, then the script). */
  helper: string[];
  /** The platform's own networks: never reached, whatever name leads there. */
  platformNetworks: readonly string[];
  /** Loopback or private ranges where customer systems live; reachable by name too. */
  customerNetworks: readonly string[];
}

/**
 * Ranges a destination registered by name may not resolve into (loopback, private, link-local,
 * metadata, special). Squid reads IPv4-mapped IPv6 addresses as IPv4, so the IPv4 ranges cover them.
 */
export const RESERVED_NETWORKS = [
  '0.0.0.0/8',
  '10.0.0.0/8',
  '100.64.0.0/10',
  '127.0.0.0/8',
  '169.254.0.0/16',
  '172.16.0.0/12',
  '192.0.0.0/24',
  '192.0.2.0/24',
  '192.168.0.0/16',
  '198.18.0.0/15',
  '198.51.100.0/24',
  '203.0.113.0/24',
  '224.0.0.0/3',
  '::/128',
  '::1/128',
  '64:ff9b::/96',
  '100::/64',
  '2001::/32',
  '2001:db8::/32',
  '2002::/16',
  'fc00::/7',
  'fe80::/10',
  'ff00::/8',
];

export const squidFiles = (dir: string) => ({
  config: join(dir, 'squid.conf'),
  passwd: join(dir, 'passwd'),
  control: join(dir, 'control.json'),
  accessLog: join(dir, 'access.log'),
  cacheLog: join(dir, 'cache.log'),
  errors: join(dir, 'errors'),
});

export function squidConfig(settings: SquidSettings): string {
  const files = squidFiles(settings.dir);
  const helper = (kind: string) =>
    `external_acl_type tavio_${kind} ttl=5 negative_ttl=1 children-max=2 children-startup=1 concurrency=64 %un %DST %PORT ${[...settings.helper, files.control, kind].join(' ')}`;
  const customer = settings.customerNetworks.length > 0;
  return [
    `# Region gateway ${settings.code}: written by scripts/stack/gateways.ts at every start.`,
    `http_port 127.0.0.1:${settings.port}`,
    `visible_hostname tavio-gateway-${settings.code}`,
    'pid_filename none',
    `cache_log ${files.cacheLog}`,
    `coredump_dir ${settings.dir}`,
    'logformat tavio %ts.%03tu env=%un run=%{X-Tavio-Run}>h server=%<a method=%rm url=%ru status=%>Hs squid=%Ss bytes=%<st',
    `access_log stdio:${files.accessLog} tavio`,
    'strip_query_terms on',
    'cache deny all',
    'cache_mem 8 MB',
    'pinger_enable off',
    'shutdown_lifetime 1 seconds',
    'via off',
    'forwarded_for delete',
    'httpd_suppress_version_string on',
    'request_header_access X-Tavio-Run deny all',
    // The S3/KMS emulator picks the account a request acts in from this header.
    'request_header_access X-Moto-Account-Id deny all',
    'reply_header_access X-Cache deny all',
    'reply_header_access X-Cache-Lookup deny all',
    `error_directory ${files.errors}`,
    `auth_param basic program /usr/lib/squid/basic_ncsa_auth ${files.passwd}`,
    'auth_param basic children 4 startup=1 idle=1',
    `auth_param basic realm tavio-gateway-${settings.code}`,
    'auth_param basic credentialsttl 60 seconds',
    helper('address'),
    helper('name'),
    'acl authed proxy_auth REQUIRED',
    // The S3/KMS emulator's admin API, in any spelling its router would decode to it.
    'acl admin_path urlpath_regex -i ^/+(moto-api|[^/?]*%)',
    'acl CONNECT method CONNECT',
    `acl platform_dst dst ${settings.platformNetworks.join(' ')}`,
    ...(customer ? [`acl customer_dst dst ${settings.customerNetworks.join(' ')}`] : []),
    `acl refused_dst dst ${RESERVED_NETWORKS.join(' ')}`,
    'acl registered_address external tavio_address',
    'acl registered_name external tavio_name',
    'http_access deny !authed',
    'http_access deny admin_path',
    // Tunnels would hide paths; the platform's storage endpoint is reached by plain requests.
    'http_access deny CONNECT platform_dst',
    'http_access allow registered_address',
    'http_access deny registered_name platform_dst',
    ...(customer ? ['http_access allow registered_name customer_dst'] : []),
    'http_access deny registered_name refused_dst',
    'http_access allow registered_name',
    'http_access deny all',
    'deny_info TAVIO_ADMIN_PATH admin_path',
    'deny_info TAVIO_PLATFORM platform_dst',
    'deny_info TAVIO_RESERVED_ADDRESS refused_dst',
    'deny_info TAVIO_NOT_REGISTERED all',
    '',
  ].join('\n');
}

/** The body of a refusal page: one line that names the refusal. */
export const refusalPage = (name: keyof typeof GATEWAY_REFUSALS): string =>
  `tavio gateway: egress refused: ${GATEWAY_REFUSALS[name]}\n`;
