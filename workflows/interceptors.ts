import { ApplicationFailure, defaultPayloadConverter, workflowInfo } from '@temporalio/workflow';
import type { WorkflowInterceptorsFactory } from '@temporalio/workflow';
import {
  OpenTelemetryInboundInterceptor,
  OpenTelemetryInternalsInterceptor,
  OpenTelemetryOutboundInterceptor,
} from '@temporalio/interceptors-opentelemetry/lib/workflow/index.js';
import { FailureType } from '../common/failures.js';
import { GATEWAY_OF, REGION_CODES } from '../common/gateways.js';
import { namespaceMayBelongTo } from '../common/names.js';
import { assertMetadataSized, DEFAULT_PAYLOAD_LIMIT_BYTES } from '../common/payload-guard.js';
import { LOG_DETAIL_HEADER, LOG_DETAIL_MEMO, logDetailOf } from '../common/log-detail.js';
import { SA } from '../common/search-attributes.js';

/**
 * Refuses, before any workflow code runs, an execution whose search attributes name another
 * environment than the namespace it runs in, or another region than the task queue it runs on.
 */
function assertOwnEnvironment(): void {
  const info = workflowInfo();
  // A replay worker runs histories under its own queue and namespace; the live check already passed.
  if (info.unsafe.isReplaying) return;
  const organization = info.typedSearchAttributes.get(SA.organization);
  const environment = info.typedSearchAttributes.get(SA.environment);
  const region = REGION_CODES.find((code) => code === info.typedSearchAttributes.get(SA.region));
  if (!organization || !environment || !region) {
    throw ApplicationFailure.nonRetryable(
      `workflow ${info.workflowId} carries no Tavio environment and region`,
      FailureType.WrongEnvironment,
    );
  }
  if (
    !namespaceMayBelongTo(info.namespace, organization, environment) ||
    GATEWAY_OF[region] !== info.taskQueue
  ) {
    throw ApplicationFailure.nonRetryable(
      `workflow ${info.workflowId} belongs to ${organization}/${environment} in region ${region}, not to namespace ${info.namespace} on task queue ${info.taskQueue}`,
      FailureType.WrongEnvironment,
    );
  }
}

/**
 * Refuses, by name, an activity call or a workflow result too large to be metadata. Tells each
 * activity, in a header, the detail level of the run's log (headers do not enter replay).
 *
 * Traces the run (OpenTelemetry, first in each chain): its span continues the trace of the request
 * that started it, and each activity's span is its child. The spans go to the worker's `exporter`
 * sink, which drops them when the worker does not trace (common/telemetry/worker-traces.ts).
 */
export const interceptors: WorkflowInterceptorsFactory = () => ({
  internals: [new OpenTelemetryInternalsInterceptor()],
  outbound: [
    new OpenTelemetryOutboundInterceptor(),
    {
      async scheduleActivity(input, next) {
        const info = workflowInfo();
        const what = `workflow ${info.workflowType}, activity ${input.activityType} arguments`;
        assertMetadataSized(input.args, DEFAULT_PAYLOAD_LIMIT_BYTES, what);
        const detail = logDetailOf(info.memo?.[LOG_DETAIL_MEMO]);
        return next({
          ...input,
          headers: { ...input.headers, [LOG_DETAIL_HEADER]: defaultPayloadConverter.toPayload(detail) },
        });
      },
    },
  ],
  inbound: [
    new OpenTelemetryInboundInterceptor(),
    {
      async execute(input, next) {
        assertOwnEnvironment();
        const result = await next(input);
        assertMetadataSized(
          result,
          DEFAULT_PAYLOAD_LIMIT_BYTES,
          `workflow ${workflowInfo().workflowType} result`,
        );
        return result;
      },
    },
  ],
});
