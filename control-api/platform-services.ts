import type { ControlApiConfig } from '../common/config.js';
import { parseAddress, unbracketed } from '../common/address-rules.js';

/** A service of the platform by the endpoint it listens on, `host:port` in the form `endpoint` gives. */
export interface PlatformService {
  name: string;
  endpoint: string;
}

const DEFAULT_PORTS: Record<string, number> = {
  'http:': 80,
  'https:': 443,
  'sftp:': 22,
  'postgres:': 5432,
  'postgresql:': 5432,
};

/**
 * One spelling per endpoint: IP addresses in canonical form (an IPv4-mapped IPv6 as its IPv4),
 * names in lower case, so that `[::ffff:7f00:1]:5055` and `127.0.0.1:5055` compare equal.
 */
export function endpoint(host: string, port: number): string {
  const bare = unbracketed(host).toLowerCase();
  let canonical = bare;
  try {
    canonical = parseAddress(bare).toString();
  } catch {
    // A name, kept as it is spelled.
  }
  return `${canonical.includes(':') ? `[${canonical}]` : canonical}:${port}`;
}

/** The port a URL reaches, its scheme's default when it names none. */
export function portOf(url: URL): number | undefined {
  return url.port ? Number(url.port) : DEFAULT_PORTS[url.protocol];
}

function service(name: string, address: string | undefined): PlatformService[] {
  if (!address) return [];
  // Temporal's address is host:port without a scheme; any scheme parses it the same way.
  const url = new URL(address.includes('://') ? address : `tcp://${address}`);
  const port = portOf(url);
  return port === undefined ? [] : [{ name, endpoint: endpoint(url.hostname, port) }];
}

/** The platform's own services, as the control API's configuration names them. */
export function platformServices(config: ControlApiConfig): PlatformService[] {
  return [
    ...service('the control API', `${config.host}:${config.port}`),
    ...service('the Web UI gateway', config.webUiPort ? `${config.host}:${config.webUiPort}` : undefined),
    ...service('the Web UI', config.temporalUiUrl),
    ...service('the Temporal Web UI server', config.temporalUiUpstream),
    ...service('Temporal', config.temporalAddress),
    ...service('the control database', config.databaseUrl),
    ...service('the control database', config.databaseMigrationUrl),
    ...Object.values(config.regions).flatMap((region) => [
      ...service(`the ${region.gateway} gateway`, region.gatewayUrl),
      ...service(`the ${region.gateway} data plane`, region.dataplaneUrl),
      ...service('the S3/KMS service', region.awsEndpoint),
    ]),
  ];
}
