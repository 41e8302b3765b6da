/** The regions an environment can be pinned to; fixed at environment creation. */
export const REGION_CODES = ['us', 'ca', 'eu'] as const;
export type RegionCode = (typeof REGION_CODES)[number];

/** The gateway code of each region: it names both the Temporal task queue and the egress gateway. */
export const GATEWAY_OF = { us: 'us1', ca: 'ca1', eu: 'eu1' } as const satisfies Record<RegionCode, string>;
