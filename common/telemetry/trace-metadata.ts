import type { Attributes, AttributeValue } from '@opentelemetry/api';
import type { ExportResult } from '@opentelemetry/core';
import type { ReadableSpan, SpanExporter, TimedEvent } from '@opentelemetry/sdk-trace-base';

/**
 * The span attributes a trace may carry: ids, types, routes and status codes, never a value of a
 * run. Everything else is dropped before a span leaves its process, whatever instrumentation set
 * it: request paths with their query strings, the workflow information the Temporal sink adds
 * (memo, search attributes, last failure), status messages and exception messages and stacks.
 */
export const TRACE_ATTRIBUTES: ReadonlySet<string> = new Set([
  // Temporal's interceptors: ids of the execution and the activity.
  'temporalWorkflowId',
  'temporalActivityId',
  'temporalUpdateId',
  'run_id',
  // What the workflow sink adds of the workflow's information, its scalar ids alone.
  'workflowId',
  'runId',
  'workflowType',
  'namespace',
  'taskQueue',
  'attempt',
  // The control API's requests: the route's template, not the path asked for.
  'http.request.method',
  'http.route',
  'http.response.status_code',
  'fastify.type',
  // Which exception ended a span: its class, not its message.
  'exception.type',
]);

/** The longest string attribute or span name kept; longer ones are cut. */
export const MAX_TRACE_STRING = 256;

function keptValue(value: AttributeValue | undefined): AttributeValue | undefined {
  if (typeof value === 'string') return value.slice(0, MAX_TRACE_STRING);
  if (typeof value === 'number' || typeof value === 'boolean') return value;
  return undefined;
}

/** The allowed attributes of `attributes`, scalar values only. */
export function metadataAttributes(attributes: Attributes): Attributes {
  const kept: Attributes = {};
  for (const [key, value] of Object.entries(attributes)) {
    if (!TRACE_ATTRIBUTES.has(key)) continue;
    const scalar = keptValue(value);
    if (scalar !== undefined) kept[key] = scalar;
  }
  return kept;
}

/** An exception event keeps its class; other events go. */
function metadataEvents(events: readonly TimedEvent[]): TimedEvent[] {
  return events
    .filter((event) => event.name === 'exception')
    .map((event) => ({
      name: 'exception',
      time: event.time,
      attributes: metadataAttributes(event.attributes ?? {}),
    }));
}

/** The span as a trace may carry it: its ids, name, kind, times, status code and allowed attributes. */
export function metadataSpan(span: ReadableSpan): ReadableSpan {
  const attributes = metadataAttributes(span.attributes);
  const events = metadataEvents(span.events);
  return {
    name: span.name.slice(0, MAX_TRACE_STRING),
    kind: span.kind,
    spanContext: () => span.spanContext(),
    parentSpanId: span.parentSpanId,
    startTime: span.startTime,
    endTime: span.endTime,
    duration: span.duration,
    ended: span.ended,
    status: { code: span.status.code },
    attributes,
    links: span.links.map((link) => ({ context: link.context })),
    events,
    resource: span.resource,
    instrumentationLibrary: span.instrumentationLibrary,
    droppedAttributesCount: span.droppedAttributesCount,
    droppedEventsCount: span.droppedEventsCount,
    droppedLinksCount: span.droppedLinksCount,
  };
}

/** Wraps an exporter so that every span it sends is reduced to its metadata first. */
export function metadataOnly(exporter: SpanExporter): SpanExporter {
  return {
    export: (spans: ReadableSpan[], done: (result: ExportResult) => void) =>
      exporter.export(spans.map(metadataSpan), done),
    shutdown: () => exporter.shutdown(),
    forceFlush: () => exporter.forceFlush?.() ?? Promise.resolve(),
  };
}
