import type { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { ActivityInboundCallsInterceptor, ActivityInterceptorsFactory } from '@temporalio/worker';
import type { EnvironmentWorkerSettings } from '../common/config.js';
import { FailureType } from '../common/failures.js';
import { legacyNamespaceOf, namespaceOf } from '../common/names.js';
import { GATEWAY_OF } from '../common/regions.js';

/** Refuses to poll anything but the environment's own namespace on its region's queue. */
export function assertOwnNamespace(settings: EnvironmentWorkerSettings): void {
  const expected = settings.legacyNamespace
    ? legacyNamespaceOf(settings.organization, settings.environment)
    : namespaceOf(settings.organization, settings.environment, settings.environmentId);
  if (settings.namespace !== expected) {
    throw new Error(`refusing to start: namespace ${settings.namespace} is not environment ${expected}'s`);
  }
  if (settings.taskQueue !== GATEWAY_OF[settings.region]) {
    throw new Error(`refusing to start: task queue ${settings.taskQueue} is not region ${settings.region}'s`);
  }
}

/** Refuses, before the activity runs, a task of another namespace or task queue than the worker's own. */
export function activityEnvironmentGuard(settings: EnvironmentWorkerSettings): ActivityInterceptorsFactory {
  return (ctx: Context): { inbound: ActivityInboundCallsInterceptor } => ({
    inbound: {
      async execute(input, next) {
        const { workflowNamespace, taskQueue, activityType } = ctx.info;
        if (workflowNamespace !== settings.namespace || taskQueue !== settings.taskQueue) {
          throw ApplicationFailure.nonRetryable(
            `activity ${activityType} of namespace ${workflowNamespace} on ${taskQueue} refused by the worker of ${settings.namespace} on ${settings.taskQueue}`,
            FailureType.WrongEnvironment,
          );
        }
        return next(input);
      },
    },
  });
}
