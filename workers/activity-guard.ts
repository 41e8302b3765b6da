import type { Context } from '@temporalio/activity';
import type { ActivityInboundCallsInterceptor, ActivityInterceptorsFactory } from '@temporalio/worker';
import { ApplicationFailure, TemporalFailure } from '@temporalio/common';
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

function errorCode(error: unknown): string | undefined {
  for (let current: unknown = error; current instanceof Error; current = current.cause) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string') return code;
  }
  return undefined;
}

/**
 * Failures become part of a run's history, so only Tavio's own failures keep their message. Any
 * other error (a parser quoting the body it choked on, a library echoing a response) leaves the
 * activity as its name and code alone, still retryable.
 */
export function activityFailureScrubber(): ActivityInterceptorsFactory {
  return (ctx: Context): { inbound: ActivityInboundCallsInterceptor } => ({
    inbound: {
      async execute(input, next) {
        try {
          return await next(input);
        } catch (error) {
          if (error instanceof TemporalFailure) throw error;
          const name = error instanceof Error ? error.name : 'Error';
          const code = errorCode(error);
          throw ApplicationFailure.create({
            type: name,
            message: `activity ${ctx.info.activityType} failed with ${name}${code ? ` (${code})` : ''}; its message is withheld because it may quote upstream data`,
          });
        }
      },
    },
  });
}
