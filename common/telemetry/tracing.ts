import { trace } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { Resource } from '@opentelemetry/resources';
import { BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { BufferConfig, SpanExporter, SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { z } from 'zod';
import { metadataOnly } from './trace-metadata.js';

type Env = Record<string, string | undefined>;

/** The service names of Tavio's processes, unless `OTEL_SERVICE_NAME` names another. */
export const TRACE_SERVICE = {
  controlApi: 'tavio-control-api',
  regionHost: 'tavio-region-host',
  environmentWorker: 'tavio-environment-worker',
} as const;

export interface TracingSettings {
  /** Where spans are sent: OTLP over HTTP, protobuf. */
  tracesUrl: string;
  serviceName: string;
}

/** The variable's value as a URL, or an error naming the variable. */
function urlOf(env: Env, variable: string): string {
  const parsed = z.url().safeParse(env[variable]);
  if (!parsed.success) throw new Error(`${variable} is not a URL: ${env[variable]}`);
  return parsed.data;
}

/**
 * Tracing is on when the standard OpenTelemetry variables name an OTLP endpoint:
 * `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` (used as it is) or `OTEL_EXPORTER_OTLP_ENDPOINT` (with
 * `/v1/traces` added), unless `OTEL_SDK_DISABLED=true` or `OTEL_TRACES_EXPORTER=none`. The exporter
 * reads its other standard variables (headers, timeout, compression) itself. These variables belong
 * to OpenTelemetry, so they are read here rather than in `common/config.ts`.
 */
export function tracingSettingsFrom(env: Env, defaultServiceName: string): TracingSettings | undefined {
  if (env.OTEL_SDK_DISABLED === 'true' || env.OTEL_TRACES_EXPORTER === 'none') return undefined;
  const serviceName = env.OTEL_SERVICE_NAME || defaultServiceName;
  if (env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT)
    return { tracesUrl: urlOf(env, 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT'), serviceName };
  if (env.OTEL_EXPORTER_OTLP_ENDPOINT) {
    const base = urlOf(env, 'OTEL_EXPORTER_OTLP_ENDPOINT');
    return { tracesUrl: `${base.replace(/\/+$/, '')}/v1/traces`, serviceName };
  }
  return undefined;
}

export interface Tracing {
  /** Receives finished spans from elsewhere than this process's tracer (workflow sinks, workers). */
  processor: SpanProcessor;
  resource: Resource;
  /** Sends what is buffered and stops. */
  shutdown(): Promise<void>;
}

let current: Tracing | undefined;

/** Whether this process traces: its tracer provider is installed. */
export const isTracing = (): boolean => current !== undefined;

/**
 * Installs the process's tracer provider over `exporter` (reduced to metadata, in batches), with
 * W3C trace context as the only propagator: no baggage rides into Temporal headers.
 */
export function installTracing(serviceName: string, exporter: SpanExporter, batch?: BufferConfig): Tracing {
  if (current) throw new Error('tracing is already installed in this process');
  const resource = new Resource({ 'service.name': serviceName });
  const processor = new BatchSpanProcessor(metadataOnly(exporter), batch);
  const provider = new NodeTracerProvider({ resource, spanProcessors: [processor] });
  provider.register({ propagator: new W3CTraceContextPropagator() });
  const installed: Tracing = {
    processor,
    resource,
    async shutdown() {
      await provider.shutdown();
      trace.disable();
      if (current === installed) current = undefined;
    },
  };
  current = installed;
  return installed;
}

/**
 * Starts tracing for this process when the OpenTelemetry variables configure it; otherwise sets
 * up nothing and answers undefined. Call it before anything else is created.
 */
export function startTracing(defaultServiceName: string, env: Env = process.env): Tracing | undefined {
  const settings = tracingSettingsFrom(env, defaultServiceName);
  if (!settings) return undefined;
  return installTracing(settings.serviceName, new OTLPTraceExporter({ url: settings.tracesUrl }));
}
