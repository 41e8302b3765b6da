import { randomBytes } from 'node:crypto';
import { createTavioClient } from '../control-api/client.js';
import type { RegionCode } from '../common/regions.js';
import { startHrisSource } from '../fixtures/hris-source.js';
import { startUpsertDestination } from '../fixtures/upsert-destination.js';
import { startPlatform } from '../scripts/platform.js';
import { startGatewayInstance } from '../scripts/stack/gateways.js';
import { stackUp } from '../scripts/stack/services.js';

/** What the benchmarks stand on: the stack, a platform, the fixture systems and an organization. */

/** The value at fraction `p` of the sorted values (0.5: the median). */
export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
}

export async function benchPlatform(options: {
  regions: RegionCode[];
  employees: number;
  /** Settings of the region hosts (TAVIO_WORKER_IDLE_MS...). */
  hostEnv?: Record<string, string>;
}) {
  const stack = await stackUp({ quiet: true });
  const platform = await startPlatform(stack, { regions: options.regions, hostEnv: options.hostEnv });
  const sourceKey = randomBytes(16).toString('hex');
  const token = randomBytes(16).toString('hex');
  const source = await startHrisSource({ apiKey: sourceKey, employees: options.employees });
  const destination = await startUpsertDestination({ token });
  const org = `bench-${randomBytes(3).toString('hex')}`;
  const { apiKey } = await platform.operator.createOrganization(org);
  const client = createTavioClient({ baseUrl: platform.api.url, apiKey: apiKey.key });
  return {
    stack,
    platform,
    org,
    client,
    source,
    destination,
    sourceKey,
    token,
    /** Connects an environment to the fixture HRIS and destination: [source, destination]. */
    connect: (env: string) =>
      Promise.all([
        client.createConnection(org, env, {
          name: 'hris',
          kind: 'hris-rest',
          baseUrl: source.url,
          credentials: { apiKey: sourceKey },
        }),
        client.createConnection(org, env, {
          name: 'directory',
          kind: 'upsert-rest',
          baseUrl: destination.url,
          credentials: { token },
        }),
      ]),
    /** A gateway of its own, with the stack's configuration of region us, asking this platform. */
    async gateway() {
      const hostKey = await platform.operator.createHostKey('us');
      return startGatewayInstance('us1', {
        controlApiUrl: platform.api.url,
        region: 'us',
        key: hostKey.key,
      });
    },
    /** Retires the bench's environments (a bench leaves none active behind), then stops. */
    async close() {
      const { environments } = await client.listEnvironments(org);
      await Promise.allSettled(
        environments
          .filter((env) => env.status !== 'retired')
          .map((env) => client.retireEnvironment(org, env.slug)),
      );
      await source.close();
      await destination.close();
      await platform.stop();
    },
  };
}
