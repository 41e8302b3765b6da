import { z } from 'zod';

import { GATEWAY_OF, REGION_CODES } from './gateways.js';
import type { RegionCode } from './gateways.js';

export { GATEWAY_OF, REGION_CODES };
export type { RegionCode };
export const regionCodeSchema = z.enum(REGION_CODES);

export const regionSettingsSchema = z.object({
  code: regionCodeSchema,
  gateway: z.string().regex(/^[a-z]{2}\d$/),
  taskQueue: z.string().min(1),
  awsRegion: z.string().regex(/^[a-z]{2}-[a-z]+-\d$/, 'an AWS region such as eu-central-1'),
  /** Forward proxy every outbound activity request leaves through. */
  gatewayUrl: z.url(),
  /** S3 and KMS endpoint override (a local S3/KMS service); absent on AWS. */
  awsEndpoint: z.url().optional(),
  /** The gateway's access log, where run residency counts its requests; absent: the workers' own counts. */
  gatewayLogFile: z.string().min(1).optional(),
  /** Where the region's host serves what is kept in its environments' buckets (run logs) to token holders. */
  dataplaneUrl: z.url(),
});
export type RegionSettings = z.infer<typeof regionSettingsSchema>;

export type RegionRegistry = Record<RegionCode, RegionSettings>;

/** Checks that a registry is complete and that each region's gateway and queue are its own. */
export function assertRegistryConsistent(registry: RegionRegistry): void {
  const seenQueues = new Set<string>();
  for (const code of REGION_CODES) {
    const region = registry[code];
    if (region.code !== code) throw new Error(`region ${code}: registry entry names region ${region.code}`);
    if (region.gateway !== GATEWAY_OF[code]) {
      throw new Error(`region ${code}: gateway must be ${GATEWAY_OF[code]}, got ${region.gateway}`);
    }
    if (seenQueues.has(region.taskQueue))
      throw new Error(`region ${code}: task queue ${region.taskQueue} is shared`);
    seenQueues.add(region.taskQueue);
  }
}
