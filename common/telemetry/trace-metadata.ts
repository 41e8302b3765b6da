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

/**
 * The names of the spans an environment worker makes: those of Temporal's workflow and activity
 * interceptors (`RunWorkflow:<type>`, `StartActivity:<type>`, `RunActivity:<type>`, the handlers of
 * signals, queries and updates, child workflows, continue-as-new and Nexus operations), each
 * followed by a name of code.
 */
export const WORKER_SPAN_NAME =
  /^(RunWorkflow|StartActivity|RunActivity|HandleSignal|HandleQuery|HandleUpdate|ValidateUpdate|SignalWorkflow|StartChildWorkflow|ContinueAsNew|StartNexusOperation|RunStartNexusOperation|RunCancelNexusOperation):[\w$.\-/]{1,128}$/;

/** A Temporal id (workflow, activity, update): bounded, with no control or formatting character. */
const TEMPORAL_ID = /^[^\p{Cc}\p{Cf}\p{Zl}\p{Zp}]{1,256}$/u;
/** A Temporal run id: a UUID. */
const RUN_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** A workflow or activity type: a name of code. */
const TYPE_NAME = /^[\w$.\-/]{1,128}$/;

const matches = (pattern: RegExp) => (value: AttributeValue) =>
  typeof value === 'string' && pattern.test(value);

/**
 * The attributes a worker's span may carry, each with the form its value must have: the ids and
 * types Temporal's interceptors and workflow sink set. `namespace` and `taskQueue` are checked
 * against the worker's assignment by its host (see trace-relay.ts).
 */
export const WORKER_SPAN_ATTRIBUTES: Readonly<Record<string, (value: AttributeValue) => boolean>> = {
  temporalWorkflowId: matches(TEMPORAL_ID),
  workflowId: matches(TEMPORAL_ID),
  temporalActivityId: matches(TEMPORAL_ID),
  temporalUpdateId: matches(TEMPORAL_ID),
  run_id: matches(RUN_ID),
  runId: matches(RUN_ID),
  workflowType: matches(TYPE_NAME),
  attempt: (value) => Number.isSafeInteger(value) && (value as number) >= 1,
};

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
