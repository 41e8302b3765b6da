import type { ControlApiConfig } from '../common/config.js';
import { unprocessable } from './problems.js';

const LINK_LOCAL = [/^169\.254\./, /^\[fe80:/i];

/**
 * A connection may point at a third-party system, never at the platform's own services or at the
 * cloud metadata range; such a host would give a run's traffic a path into the control plane.
 */
export function assertConnectionHostAllowed(config: ControlApiConfig, baseUrl: string): void {
  const url = new URL(baseUrl);
  const platform = new Set(
    [
      config.temporalAddress,
      new URL(config.databaseUrl).host,
      new URL(config.databaseMigrationUrl).host,
      `${config.host}:${config.port}`,
      new URL(config.temporalUiUrl).host,
      new URL(config.temporalUiUpstream).host,
      ...Object.values(config.regions).flatMap((region) => [
        new URL(region.gatewayUrl).host,
        region.awsEndpoint ? new URL(region.awsEndpoint).host : '',
      ]),
    ].filter(Boolean),
  );
  if (platform.has(url.host) || LINK_LOCAL.some((pattern) => pattern.test(url.hostname))) {
    throw unprocessable(
      'connection-host-refused',
      `connections may not reach ${url.host}: it belongs to the platform or to the link-local range`,
    );
  }
}
