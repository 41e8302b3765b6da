import { TraceFlags } from '@opentelemetry/api';
import type { Attributes, HrTime } from '@opentelemetry/api';
import { ExportResultCode } from '@opentelemetry/core';
import type { ExportResult } from '@opentelemetry/core';
import { Resource } from '@opentelemetry/resources';
import type { ReadableSpan, SpanExporter, SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { z } from 'zod';
import {
  MAX_TRACE_STRING,
  metadataAttributes,
  TRACE_ATTRIBUTES,
  WORKER_SPAN_ATTRIBUTES,
  WORKER_SPAN_NAME,
} from './trace-metadata.js';

/**
 * Environment workers run sandboxed: they reach Temporal and their region's gateway, nothing else.
 * Their finished spans go to their host over the IPC channel it forked them with, as metadata
 * only, and the host exports them with its own exporter. The host trusts nothing in a message: it
 * checks its shape and sizes, keeps the spans of Temporal's interceptors alone, refuses those that
 * name another namespace or task queue than the worker's, keeps ids and types of the right form
 * alone, drops spans beyond a rate per worker, and names the worker's service and environment itself.
 */

/** The most spans one message carries; a worker's batches are this size at most. */
export const MAX_RELAYED_SPANS = 512;

const hex = (length: number) => z.string().regex(new RegExp(`^[0-9a-f]{${length}}$`));
const hrTimeSchema = z.tuple([z.number().int().min(0), z.number().int().min(0).max(999_999_999)]);
const attributesSchema = z
  .record(z.string().max(64), z.union([z.string().max(MAX_TRACE_STRING), z.number(), z.boolean()]))
  .refine((attributes) => Object.keys(attributes).length <= TRACE_ATTRIBUTES.size, 'too many attributes');

const relayedSpanSchema = z.object({
  traceId: hex(32),
  spanId: hex(16),
  parentSpanId: hex(16).optional(),
  sampled: z.boolean(),
  name: z.string().min(1).max(MAX_TRACE_STRING),
  kind: z.number().int().min(0).max(4),
  startTime: hrTimeSchema,
  endTime: hrTimeSchema,
  status: z.number().int().min(0).max(2),
  attributes: attributesSchema,
  scope: z.string().max(128),
});
export type RelayedSpan = z.infer<typeof relayedSpanSchema>;

/** A worker's message to its host carrying finished spans. */
export const traceMessageSchema = z.object({ spans: z.array(relayedSpanSchema).max(MAX_RELAYED_SPANS) });
export type TraceMessage = z.infer<typeof traceMessageSchema>;

/** The span as it crosses the channel: ids, name, kind, times, status code, allowed attributes. */
export function relayedSpanOf(span: ReadableSpan): RelayedSpan {
  const context = span.spanContext();
  return {
    traceId: context.traceId,
    spanId: context.spanId,
    parentSpanId: span.parentSpanId,
    sampled: (context.traceFlags & TraceFlags.SAMPLED) === TraceFlags.SAMPLED,
    name: span.name.slice(0, MAX_TRACE_STRING),
    kind: span.kind,
    startTime: [span.startTime[0], span.startTime[1]],
    endTime: [span.endTime[0], span.endTime[1]],
    status: span.status.code,
    attributes: metadataAttributes(span.attributes) as RelayedSpan['attributes'],
    scope: span.instrumentationLibrary.name.slice(0, 128),
  };
}

/** The worker's exporter: each batch goes to the host as one message. */
export class HostRelayExporter implements SpanExporter {
  constructor(private readonly channel: Pick<NodeJS.Process, 'send' | 'connected'>) {}

  export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    if (!this.channel.connected || !this.channel.send) return done({ code: ExportResultCode.FAILED });
    const message: TraceMessage = { spans: spans.slice(0, MAX_RELAYED_SPANS).map(relayedSpanOf) };
    this.channel.send(message, undefined, undefined, (error) =>
      done({ code: error ? ExportResultCode.FAILED : ExportResultCode.SUCCESS }),
    );
  }

  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}

function duration(start: HrTime, end: HrTime): HrTime {
  let seconds = end[0] - start[0];
  let nanos = end[1] - start[1];
  if (nanos < 0) {
    seconds -= 1;
    nanos += 1_000_000_000;
  }
  return seconds < 0 ? [0, 0] : [seconds, nanos];
}

/** What the host assigned a worker: the namespace and task queue its spans may name. */
export interface WorkerAssignment {
  namespace: string;
  taskQueue: string;
}

/**
 * A worker span's attributes as the host keeps them: ids and types of their form, and the worker's
 * own namespace and task queue; undefined when the span names another namespace or task queue.
 */
function workerAttributesOf(
  attributes: RelayedSpan['attributes'],
  assignment: WorkerAssignment,
): Attributes | undefined {
  const kept: Attributes = {};
  for (const [key, value] of Object.entries(attributes)) {
    if (key === 'namespace' || key === 'taskQueue') {
      if (value !== assignment[key]) return undefined;
      kept[key] = assignment[key];
    } else if (Object.hasOwn(WORKER_SPAN_ATTRIBUTES, key) && WORKER_SPAN_ATTRIBUTES[key]!(value)) {
      kept[key] = value;
    }
  }
  return kept;
}

function readableSpanOf(span: RelayedSpan, attributes: Attributes, resource: Resource): ReadableSpan {
  const context = {
    traceId: span.traceId,
    spanId: span.spanId,
    traceFlags: span.sampled ? TraceFlags.SAMPLED : TraceFlags.NONE,
    isRemote: false,
  };
  return {
    name: span.name,
    kind: span.kind,
    spanContext: () => context,
    parentSpanId: span.parentSpanId,
    startTime: span.startTime,
    endTime: span.endTime,
    duration: duration(span.startTime, span.endTime),
    ended: true,
    status: { code: span.status },
    attributes,
    links: [],
    events: [],
    resource,
    instrumentationLibrary: { name: span.scope },
    droppedAttributesCount: 0,
    droppedEventsCount: 0,
    droppedLinksCount: 0,
  };
}

export interface TraceRelayLimits {
  /** Spans a worker may send in a burst. */
  burstSpans: number;
  /** Spans per second a worker may send on average. */
  spansPerSecond: number;
}

export const DEFAULT_TRACE_RELAY_LIMITS: TraceRelayLimits = { burstSpans: 2_000, spansPerSecond: 500 };

/** What the host did with one worker message. */
export interface RelayOutcome {
  accepted: number;
  dropped: number;
  /** Why spans were refused for what they are rather than for the rate: their shape, names or claims. */
  refused?: string;
}

/**
 * The host's end: hands each worker's spans to the host's span processor, under the worker's own
 * resource (its service and environment, named by the host), within a rate per worker.
 */
export function createTraceRelay(options: {
  processor: SpanProcessor;
  serviceName: string;
  /** Resource attributes the host gives every span of a worker, for example its environment. */
  resourceOf: (worker: string) => Record<string, string>;
  /** The worker's assignment; a worker without one has its spans refused. */
  assignmentOf: (worker: string) => WorkerAssignment | undefined;
  limits?: TraceRelayLimits;
  now?: () => number;
}) {
  const limits = options.limits ?? DEFAULT_TRACE_RELAY_LIMITS;
  const now = options.now ?? Date.now;
  const buckets = new Map<string, { tokens: number; at: number }>();
  const resources = new Map<string, Resource>();

  function allowance(worker: string, wanted: number): number {
    const time = now();
    const bucket = buckets.get(worker) ?? { tokens: limits.burstSpans, at: time };
    bucket.tokens = Math.min(
      limits.burstSpans,
      bucket.tokens + ((time - bucket.at) / 1000) * limits.spansPerSecond,
    );
    bucket.at = time;
    const granted = Math.min(wanted, Math.floor(bucket.tokens));
    bucket.tokens -= granted;
    buckets.set(worker, bucket);
    return granted;
  }

  function resourceOf(worker: string): Resource {
    let resource = resources.get(worker);
    if (!resource) {
      resource = new Resource({ ...options.resourceOf(worker), 'service.name': options.serviceName });
      resources.set(worker, resource);
    }
    return resource;
  }

  return {
    /** Takes one message of `worker`; never throws, whatever the message holds. */
    receive(worker: string, message: unknown): RelayOutcome {
      const parsed = traceMessageSchema.safeParse(message);
      if (!parsed.success) {
        const spans = (message as { spans?: unknown } | null)?.spans;
        return {
          accepted: 0,
          dropped: Array.isArray(spans) ? spans.length : 0,
          refused: 'not a message of spans within the limits',
        };
      }
      const spans = parsed.data.spans;
      const assignment = options.assignmentOf(worker);
      if (!assignment)
        return { accepted: 0, dropped: spans.length, refused: 'spans of a worker without an assignment' };
      const kept: { span: RelayedSpan; attributes: Attributes }[] = [];
      for (const span of spans) {
        const attributes = WORKER_SPAN_NAME.test(span.name)
          ? workerAttributesOf(span.attributes, assignment)
          : undefined;
        if (attributes) kept.push({ span, attributes });
      }
      const granted = allowance(worker, kept.length);
      const resource = resourceOf(worker);
      for (const { span, attributes } of kept.slice(0, granted))
        options.processor.onEnd(readableSpanOf(span, attributes, resource));
      const outcome: RelayOutcome = { accepted: granted, dropped: spans.length - granted };
      if (kept.length < spans.length)
        outcome.refused = "spans not of Temporal's interceptors, or of another namespace or task queue";
      return outcome;
    },
    /** Forgets a worker that has stopped. */
    forget(worker: string): void {
      buckets.delete(worker);
      resources.delete(worker);
    },
  };
}
export type TraceRelay = ReturnType<typeof createTraceRelay>;

/** Whether a worker message is meant for the trace relay. */
export const isTraceMessage = (message: unknown): boolean =>
  typeof message === 'object' && message !== null && 'spans' in message;
