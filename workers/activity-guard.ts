import type { Context } from '@temporalio/activity';
import type { ActivityInboundCallsInterceptor, ActivityInterceptorsFactory } from '@temporalio/worker';
import { assertMetadataSized } from '../common/payload-guard.js';

/** Refuses, by activity name, arguments or a result too large to be metadata. */
export function activityPayloadGuard(limit: number): ActivityInterceptorsFactory {
  return (ctx: Context): { inbound: ActivityInboundCallsInterceptor } => ({
    inbound: {
      async execute(input, next) {
        const name = `activity ${ctx.info.activityType} of workflow ${ctx.info.workflowType}`;
        assertMetadataSized(input.args, limit, `${name} arguments`);
        const result = await next(input);
        assertMetadataSized(result, limit, `${name} result`);
        return result;
      },
    },
  });
}
