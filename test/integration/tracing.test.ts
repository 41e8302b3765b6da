import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTracing, TRACE_SERVICE } from '../../common/telemetry/tracing.js';
import type { Tracing } from '../../common/telemetry/tracing.js';
import type { ControlApi } from '../../control-api/platform.js';
import { generateEmployees } from '../../fixtures/employees.js';
import { waitFor } from '../../scripts/processes.js';
import type { EnvScenario } from '../support/scenario.js';
import { newEnvironment, runRequest } from '../support/scenario.js';
import { startTraceReceiver } from '../support/trace-receiver.js';
import type { ReceivedSpan, TraceReceiver } from '../support/trace-receiver.js';
import { startOtherControlApi } from '../support/control-api.js';

const EMPLOYEES = 120;

/**
 * One run, started through a control API that traces (in this process), served by the tests'
 * region host, which traces to this receiver (test/support/global-setup.ts) and relays its
 * sandboxed workers' spans.
 */
describe('traces of a run', () => {
  let receiver: TraceReceiver;
  let tracing: Tracing;
  let api: ControlApi;
  let s: EnvScenario;
  beforeAll(async () => {
    receiver = await startTraceReceiver();
    tracing = startTracing(TRACE_SERVICE.controlApi, {
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: receiver.url,
    })!;
    api = await startOtherControlApi();
    s = await newEnvironment('eu', { employees: EMPLOYEES, rateLimitEvery: 0 });
  });
  afterAll(async () => {
    await api?.close();
    await tracing?.shutdown();
    await receiver?.close();
    await s?.close();
  });

  it('is one trace from the API request through the workflow to its activities, with no customer data', async () => {
    const response = await fetch(new URL(`/v1/organizations/${s.org}/environments/${s.env}/runs`, api.url), {
      method: 'POST',
      headers: { authorization: `Bearer ${s.envKey}`, 'content-type': 'application/json' },
      body: JSON.stringify(runRequest(s, { options: { pageSize: 50, pagesPerExecution: 5 } })),
    });
    expect(response.status).toBe(201);
    const run = (await response.json()) as { id: string; workflowId: string };
    const done = await s.client.waitForRun(s.org, s.env, run.id, { timeoutMs: 60_000 });
    expect(done.status).toBe('completed');
    await tracing.processor.forceFlush();

    const ofRun = (span: ReceivedSpan) =>
      span.attributes.temporalWorkflowId === run.workflowId || span.attributes.workflowId === run.workflowId;
    const received = () =>
      [...new Set(receiver.spans.map((span) => `${span.service} ${span.name} ${span.traceId}`))].join('\n');
    const spans = await waitFor(
      "the run's spans, the API's and the worker's",
      () => {
        const start = receiver.spans.find((span) => span.name.startsWith('StartWorkflow:') && ofRun(span));
        if (!start) return undefined;
        const trace = receiver.spans.filter((span) => span.traceId === start.traceId);
        const activities = trace.filter((span) => span.name.startsWith('RunActivity:'));
        const workflow = trace.find((span) => span.name === 'RunWorkflow:hrisEmployeeSync');
        // The pages' activity, then the last one of the run, which keeps its sync mark.
        const last = activities.some((span) => span.name === 'RunActivity:saveSyncMark');
        const pages = activities.some((span) => span.name === 'RunActivity:syncEmployeePages');
        return workflow && pages && last ? { start, trace, workflow, activities } : undefined;
      },
      30_000,
    ).catch((error: Error) => {
      throw new Error(`${error.message}; received:\n${received()}`);
    });
    const byId = new Map(spans.trace.map((span) => [span.spanId, span]));
    const ancestors = (span: ReceivedSpan): ReceivedSpan[] => {
      const chain: ReceivedSpan[] = [];
      for (
        let at = span.parentSpanId && byId.get(span.parentSpanId);
        at;
        at = at.parentSpanId && byId.get(at.parentSpanId)
      )
        chain.push(at);
      return chain;
    };

    // The request that started it, then the client's start, then the run, then each activity.
    const request = ancestors(spans.start).find((span) => span.name === 'request');
    expect(request).toMatchObject({
      service: 'tavio-control-api',
      attributes: {
        'http.request.method': 'POST',
        'http.route': '/v1/organizations/:org/environments/:env/runs',
        'http.response.status_code': 201,
      },
    });
    expect(request!.parentSpanId).toBeUndefined();
    expect(spans.start.service).toBe('tavio-control-api');
    expect(spans.workflow.parentSpanId).toBe(spans.start.spanId);
    expect(spans.workflow.service).toBe('tavio-environment-worker');
    expect(spans.workflow.resource).toMatchObject({
      'tavio.environment.id': s.environment.id,
      'tavio.region': 'eu',
    });
    for (const activity of spans.activities) {
      expect(activity.service).toBe('tavio-environment-worker');
      expect(activity.attributes).toMatchObject({ temporalWorkflowId: run.workflowId });
      const scheduled = byId.get(activity.parentSpanId!);
      expect(scheduled?.name).toBe(activity.name.replace('RunActivity:', 'StartActivity:'));
      expect(ancestors(activity)).toContain(spans.workflow);
    }

    // Ids, types, routes and status codes only: no record, no credential, no request path or message.
    const text = receiver.text();
    const people = generateEmployees(EMPLOYEES);
    for (const person of people) {
      expect(text).not.toContain(`${person.first_name} ${person.last_name}`);
      expect(text).not.toContain(person.national_id);
      if (person.work_email) expect(text).not.toContain(person.work_email);
    }
    expect(text).not.toContain(s.sourceApiKey);
    expect(text).not.toContain(s.envKey);
    expect(text).not.toContain('url.path');
    for (const span of receiver.spans) {
      expect(span.statusMessage).toBe('');
      for (const event of span.events) expect(Object.keys(event.attributes)).toEqual(['exception.type']);
    }
  });
});
