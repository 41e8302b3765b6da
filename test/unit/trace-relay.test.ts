import { SpanKind, SpanStatusCode, TraceFlags } from '@opentelemetry/api';
import { Resource } from '@opentelemetry/resources';
import type { ReadableSpan, SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { describe, expect, it } from 'vitest';
import { metadataSpan } from '../../common/telemetry/trace-metadata.js';
import { createTraceRelay, MAX_RELAYED_SPANS, relayedSpanOf } from '../../common/telemetry/trace-relay.js';
import { tracingSettingsFrom } from '../../common/telemetry/tracing.js';

function span(attributes: ReadableSpan['attributes'] = {}): ReadableSpan {
  const context = { traceId: 'a'.repeat(32), spanId: 'b'.repeat(16), traceFlags: TraceFlags.SAMPLED };
  return {
    name: 'RunActivity:fetchPage',
    kind: SpanKind.INTERNAL,
    spanContext: () => context,
    parentSpanId: 'c'.repeat(16),
    startTime: [1, 0],
    endTime: [2, 5],
    duration: [1, 5],
    ended: true,
    status: { code: SpanStatusCode.ERROR, message: 'failed for jane.doe@example.com' },
    attributes,
    links: [],
    events: [
      {
        name: 'exception',
        time: [1, 1],
        attributes: { 'exception.type': 'TypeError', 'exception.message': 'jane.doe@example.com' },
      },
      { name: 'log', time: [1, 2], attributes: { line: 'secret' } },
    ],
    resource: new Resource({}),
    instrumentationLibrary: { name: 'test' },
    droppedAttributesCount: 0,
    droppedEventsCount: 0,
    droppedLinksCount: 0,
  };
}

function collector() {
  const ended: ReadableSpan[] = [];
  const processor = { onEnd: (s: ReadableSpan) => ended.push(s) } as unknown as SpanProcessor;
  return { ended, processor };
}

describe('span metadata', () => {
  it('keeps ids, types and status codes, and drops other attributes, messages and events', () => {
    const reduced = metadataSpan(
      span({
        temporalWorkflowId: 'run-1',
        'url.path': '/v1/x?email=jane.doe@example.com',
        memo: 'jane',
        searchAttributes: 'x',
        'http.response.status_code': 201,
      }),
    );
    expect(reduced.attributes).toEqual({ temporalWorkflowId: 'run-1', 'http.response.status_code': 201 });
    expect(reduced.status).toEqual({ code: SpanStatusCode.ERROR });
    expect(reduced.events).toEqual([
      { name: 'exception', time: [1, 1], attributes: { 'exception.type': 'TypeError' } },
    ]);
  });
});

const RUN_ID = '0f8fad5b-d9cb-469f-a165-70867728950e';
const ASSIGNMENT = { namespace: 'acme-production-1f2e3d4c', taskQueue: 'eu1' };

describe('the host end of the trace relay', () => {
  const relayOf = (processor: SpanProcessor, now = () => 0) =>
    createTraceRelay({
      processor,
      serviceName: 'tavio-environment-worker',
      resourceOf: (worker) => ({ 'tavio.environment.id': worker }),
      assignmentOf: (worker) => (worker.startsWith('env-') ? ASSIGNMENT : undefined),
      limits: { burstSpans: 10, spansPerSecond: 5 },
      now,
    });

  it("passes a worker's spans on under a resource the host names", () => {
    const { ended, processor } = collector();
    const outcome = relayOf(processor).receive('env-1', { spans: [relayedSpanOf(span({ run_id: RUN_ID }))] });
    expect(outcome).toEqual({ accepted: 1, dropped: 0 });
    expect(ended[0]!.spanContext()).toMatchObject({
      traceId: 'a'.repeat(32),
      traceFlags: TraceFlags.SAMPLED,
    });
    expect(ended[0]!.parentSpanId).toBe('c'.repeat(16));
    expect(ended[0]!.attributes).toEqual({ run_id: RUN_ID });
    expect(ended[0]!.resource.attributes).toEqual({
      'tavio.environment.id': 'env-1',
      'service.name': 'tavio-environment-worker',
    });
  });

  it('refuses whatever is not a message of spans within the limits, without throwing', () => {
    const { ended, processor } = collector();
    const relay = relayOf(processor);
    const good = relayedSpanOf(span());
    for (const message of [
      null,
      'spans',
      { spans: 'x' },
      { spans: [{ ...good, traceId: 'not hex' }] },
      { spans: [{ ...good, name: 'x'.repeat(10_000) }] },
      { spans: [{ ...good, attributes: { big: 'x'.repeat(10_000) } }] },
      { spans: [{ ...good, attributes: { nested: { a: 1 } } }] },
      { spans: Array.from({ length: MAX_RELAYED_SPANS + 1 }, () => good) },
    ])
      expect(relay.receive('env-1', message).refused).toBeDefined();
    expect(ended).toHaveLength(0);
  });

  it('drops attributes the allowlist does not name, even from a worker that sends them', () => {
    const { ended, processor } = collector();
    relayOf(processor).receive('env-1', {
      spans: [{ ...relayedSpanOf(span()), attributes: { email: 'jane.doe@example.com', run_id: RUN_ID } }],
    });
    expect(ended[0]!.attributes).toEqual({ run_id: RUN_ID });
  });

  it("keeps the spans of Temporal's interceptors alone, by name", () => {
    const { ended, processor } = collector();
    const good = relayedSpanOf(span());
    const names = [
      'RunWorkflow:hrisEmployeeSync',
      'StartActivity:syncEmployeePages',
      'HandleQuery:__stack_trace',
      'RunStartNexusOperation:service/operation',
    ];
    const outcome = relayOf(processor).receive('env-1', {
      spans: [
        ...names.map((name) => ({ ...good, name })),
        { ...good, name: 'GET /v1/employees?email=jane.doe@example.com' },
        { ...good, name: 'RunActivity:' },
        { ...good, name: 'RunActivity:fetch page for jane.doe@example.com' },
        { ...good, name: 'RunWorkflow:a\nb' },
        { ...good, name: 'Run:x' },
      ],
    });
    expect(outcome).toMatchObject({ accepted: 4, dropped: 5, refused: expect.any(String) });
    expect(ended.map((s) => s.name)).toEqual(names);
  });

  it("refuses spans that name another namespace or task queue than the worker's assignment", () => {
    const { ended, processor } = collector();
    const relay = relayOf(processor);
    const good = relayedSpanOf(span());
    const outcome = relay.receive('env-1', {
      spans: [
        { ...good, attributes: { namespace: ASSIGNMENT.namespace, taskQueue: 'eu1', workflowId: 'w-1' } },
        { ...good, attributes: { namespace: 'globex-production-99999999', workflowId: 'w-2' } },
        { ...good, attributes: { taskQueue: 'us1', workflowId: 'w-3' } },
      ],
    });
    expect(outcome).toMatchObject({ accepted: 1, dropped: 2, refused: expect.any(String) });
    expect(ended.map((s) => s.attributes)).toEqual([
      { namespace: ASSIGNMENT.namespace, taskQueue: 'eu1', workflowId: 'w-1' },
    ]);
    // A worker the host assigned nothing has all its spans refused.
    expect(relay.receive('stray', { spans: [good] })).toMatchObject({ accepted: 0, dropped: 1 });
    expect(ended).toHaveLength(1);
  });

  it('keeps ids and types of their form alone', () => {
    const { ended, processor } = collector();
    relayOf(processor).receive('env-1', {
      spans: [
        {
          ...relayedSpanOf(span()),
          attributes: {
            temporalWorkflowId: 'sync-1f2e3d4c/2026-11-30',
            temporalActivityId: '1',
            workflowType: 'hrisEmployeeSync',
            attempt: 2,
            run_id: RUN_ID,
            // Not of their form: control or formatting characters, not a UUID, not a name of code.
            workflowId: 'w\n1',
            temporalUpdateId: 'u\u202e1',
            runId: 'not-a-run-id',
            // Not a Temporal span's attributes.
            'http.route': '/v1/x',
            constructor: 'x',
          },
        },
        { ...relayedSpanOf(span()), attributes: { workflowType: 'sync employees', attempt: 0 } },
      ],
    });
    expect(ended.map((s) => s.attributes)).toEqual([
      {
        temporalWorkflowId: 'sync-1f2e3d4c/2026-11-30',
        temporalActivityId: '1',
        workflowType: 'hrisEmployeeSync',
        attempt: 2,
        run_id: RUN_ID,
      },
      {},
    ]);
  });

  it('lets a worker send a burst, then its rate, and drops the rest', () => {
    const { ended, processor } = collector();
    let time = 0;
    const relay = relayOf(processor, () => time);
    const twelve = { spans: Array.from({ length: 12 }, () => relayedSpanOf(span())) };
    expect(relay.receive('env-1', twelve)).toEqual({ accepted: 10, dropped: 2 });
    // Another worker has its own allowance.
    expect(relay.receive('env-2', twelve)).toEqual({ accepted: 10, dropped: 2 });
    time = 1_000;
    expect(relay.receive('env-1', twelve)).toEqual({ accepted: 5, dropped: 7 });
    expect(ended).toHaveLength(25);
  });
});

describe('tracing settings', () => {
  it('is off unless an OTLP endpoint is named, and names a wrong one', () => {
    expect(tracingSettingsFrom({}, 'tavio-control-api')).toBeUndefined();
    expect(
      tracingSettingsFrom(
        { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_TRACES_EXPORTER: 'none' },
        'x',
      ),
    ).toBeUndefined();
    expect(
      tracingSettingsFrom({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/' }, 'tavio-region-host'),
    ).toEqual({
      tracesUrl: 'http://collector:4318/v1/traces',
      serviceName: 'tavio-region-host',
    });
    expect(
      tracingSettingsFrom(
        { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://c:1/t', OTEL_SERVICE_NAME: 'api-eu' },
        'tavio-control-api',
      ),
    ).toEqual({ tracesUrl: 'http://c:1/t', serviceName: 'api-eu' });
    expect(() => tracingSettingsFrom({ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector' }, 'x')).toThrow(
      'OTEL_EXPORTER_OTLP_ENDPOINT is not a URL',
    );
  });
});
