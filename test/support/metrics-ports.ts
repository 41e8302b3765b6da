import type { RegionCode } from '../../common/regions.js';

/** Where the tests' control API serves its metrics (TAVIO_METRICS_PORT), apart from its own port. */
export const TEST_API_METRICS_PORT = 9470;
/** Where the tests' region hosts serve theirs (TAVIO_HOST_METRICS_PORT), one port per region. */
export const TEST_HOST_METRICS_PORTS: Record<RegionCode, number> = { us: 9471, ca: 9472, eu: 9473 };
