import { FastifyOtelInstrumentation } from '@fastify/otel';
import type { FastifyInstance } from 'fastify';
import type { ClientInterceptors } from '@temporalio/client';
import { OpenTelemetryWorkflowClientInterceptor } from '@temporalio/interceptors-opentelemetry/lib/client/index.js';
import { isTracing } from './tracing.js';

/**
 * Traces each request of the control API (one span per request and one for its handler, under the
 * caller's `traceparent` when it sends one), when this process traces. Registered before the routes.
 */
export async function registerRequestTracing(app: FastifyInstance): Promise<void> {
  if (!isTracing()) return;
  const instrumentation = new FastifyOtelInstrumentation({
    instrumentHooks: false,
    // A handler's span is named by its route; the plugin's default name is its function's source.
    lifecycleHook: (span, info) => {
      if (info.hookName === 'handler')
        span.updateName(`handler ${info.request.method} ${info.request.routeOptions.url ?? ''}`);
    },
  });
  await app.register(instrumentation.plugin());
}

/**
 * The Temporal client's tracing, when this process traces: a span per call, and the trace context
 * in the headers of the workflows it starts, so that a run continues the request's trace.
 */
export function temporalClientTracing(): ClientInterceptors {
  if (!isTracing()) return {};
  return { workflow: [new OpenTelemetryWorkflowClientInterceptor()] };
}
