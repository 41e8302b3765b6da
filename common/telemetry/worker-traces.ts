import {
  makeWorkflowExporter,
  OpenTelemetryActivityInboundInterceptor,
  OpenTelemetryActivityOutboundInterceptor,
} from '@temporalio/interceptors-opentelemetry/lib/worker/index.js';
import type { OpenTelemetrySinks } from '@temporalio/interceptors-opentelemetry/lib/workflow/definitions.js';
import type { ActivityInterceptorsFactory, InjectedSinks } from '@temporalio/worker';
import { HostRelayExporter } from './trace-relay.js';
import { installTracing, TRACE_SERVICE } from './tracing.js';
import type { Tracing } from './tracing.js';

/** How long a worker holds finished spans before it hands them to its host. */
const WORKER_BATCH_DELAY_MS = 1_000;

/**
 * Starts an environment worker's tracing when its host asked for it (its settings' `traces`): spans
 * go to the host over the IPC channel (see trace-relay.ts), never to the network. Otherwise sets up
 * nothing.
 */
export function startWorkerTracing(settings: { traces?: boolean }): Tracing | undefined {
  if (settings.traces !== true) return undefined;
  return installTracing(TRACE_SERVICE.environmentWorker, new HostRelayExporter(process), {
    scheduledDelayMillis: WORKER_BATCH_DELAY_MS,
  });
}

/** Traces each activity as a child of the workflow's span that scheduled it; first in the chain. */
export function activityTracing(tracing: Tracing | undefined): ActivityInterceptorsFactory[] {
  if (!tracing) return [];
  return [
    (ctx) => ({
      inbound: new OpenTelemetryActivityInboundInterceptor(ctx),
      outbound: new OpenTelemetryActivityOutboundInterceptor(ctx),
    }),
  ];
}

/**
 * The `exporter` sink the workflow bundle's tracing interceptors call (workflows/interceptors.ts).
 * Without tracing it drops what it is given, so the bundle stays the same either way.
 */
export function workflowTraceSinks(tracing: Tracing | undefined): InjectedSinks<OpenTelemetrySinks> {
  if (!tracing) return { exporter: { export: { fn: () => undefined } } };
  return { exporter: makeWorkflowExporter(tracing.processor, tracing.resource) };
}
