import { workflowInfo } from '@temporalio/workflow';
import type { WorkflowInterceptorsFactory } from '@temporalio/workflow';
import { assertMetadataSized, DEFAULT_PAYLOAD_LIMIT_BYTES } from '../common/payload-guard.js';

/** Refuses, by name, an activity call or a workflow result too large to be metadata. */
export const interceptors: WorkflowInterceptorsFactory = () => ({
  outbound: [
    {
      async scheduleActivity(input, next) {
        const what = `workflow ${workflowInfo().workflowType}, activity ${input.activityType} arguments`;
        assertMetadataSized(input.args, DEFAULT_PAYLOAD_LIMIT_BYTES, what);
        return next(input);
      },
    },
  ],
  inbound: [
    {
      async execute(input, next) {
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
