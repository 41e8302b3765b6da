import 'vitest';
import type { TestProject } from 'vitest/node';
import { stackUp } from '../../scripts/stack/services.js';
import { startPlatform } from '../../scripts/platform.js';
import type { StackInfo } from '../../scripts/stack/services.js';
import { TEST_WORKER_IDLE_MS } from './worker-idle.js';
import { TEST_SCHEDULE_MIN_INTERVAL_SECONDS } from './schedule-minimum.js';
import { TEST_HOST_TRACE_ENV } from './trace-receiver.js';
import { TEST_API_METRICS_PORT, TEST_HOST_METRICS_PORTS } from './metrics-ports.js';

declare module 'vitest' {
  export interface ProvidedContext {
    stack: StackInfo;
    controlApiUrl: string;
    operatorKey: string;
    /** The Web UI gateway: sign-in in front of the Temporal Web UI. */
    webUiUrl: string;
    /** The region hosts' processes, for tests that kill one. */
    hostPids: Partial<Record<'us' | 'ca' | 'eu', number>>;
  }
}

/**
 * Integration tests run against the real local stack (reused when it is already up) and one
 * platform: the control API and a worker host per region, each host its own process.
 */
export default async function setup(project: TestProject) {
  return providePlatform(project, await stackUp({ quiet: true }));
}

/** Starts the platform on `stack` and tells the tests where it is; answers its teardown. */
export async function providePlatform(project: TestProject, stack: StackInfo) {
  const platform = await startPlatform(stack, {
    // Hosts trace to the receiver of the tracing test (test/integration/tracing.test.ts).
    hostEnv: { TAVIO_WORKER_IDLE_MS: String(TEST_WORKER_IDLE_MS), ...TEST_HOST_TRACE_ENV },
    // Webhook deliveries retry after 1, 2, then every 4 seconds, for about 20 seconds.
    // Schedules may fire every few seconds, so that a test sees several of their runs.
    apiEnv: {
      TAVIO_WEBHOOK_RETRY_DELAYS: '1,2,4',
      TAVIO_WEBHOOK_RETRY_HOURS: String(20 / 3600),
      TAVIO_SCHEDULE_MIN_INTERVAL_SECONDS: String(TEST_SCHEDULE_MIN_INTERVAL_SECONDS),
      TAVIO_METRICS_PORT: String(TEST_API_METRICS_PORT),
    },
    hostMetricsPorts: TEST_HOST_METRICS_PORTS,
  });
  project.provide('stack', stack);
  project.provide('controlApiUrl', platform.api.url);
  project.provide('operatorKey', platform.operatorKey);
  project.provide('webUiUrl', platform.api.webUiUrl ?? '');
  project.provide(
    'hostPids',
    Object.fromEntries(platform.hosts.map((host) => [host.region, host.process.pid ?? 0])),
  );
  return async () => {
    await platform.stop();
  };
}
