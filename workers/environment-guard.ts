import type { EnvironmentWorkerSettings } from '../common/config.js';
import { namespaceOf } from '../common/names.js';
import { GATEWAY_OF } from '../common/regions.js';

/** Refuses to poll anything but the environment's own namespace on its region's queue. */
export function assertOwnNamespace(settings: EnvironmentWorkerSettings): void {
  const expected = namespaceOf(settings.organization, settings.environment);
  if (settings.namespace !== expected) {
    throw new Error(`refusing to start: namespace ${settings.namespace} is not environment ${expected}'s`);
  }
  if (settings.taskQueue !== GATEWAY_OF[settings.region]) {
    throw new Error(`refusing to start: task queue ${settings.taskQueue} is not region ${settings.region}'s`);
  }
}
