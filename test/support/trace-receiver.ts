import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import otlp from '@opentelemetry/otlp-transformer/build/src/generated/root.js';

/**
 * Where the tests' region hosts send their traces (OTLP over HTTP): a receiver listens there only
 * while the tracing test runs; otherwise the hosts' exports are refused and dropped.
 */
export const TEST_TRACE_RECEIVER_PORT = 14318;
export const TEST_HOST_TRACE_ENV: Record<string, string> = {
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `http://127.0.0.1:${TEST_TRACE_RECEIVER_PORT}/v1/traces`,
  OTEL_BSP_SCHEDULE_DELAY: '500',
};

type AnyValue = { stringValue?: string; intValue?: unknown; boolValue?: boolean; doubleValue?: number };
interface KeyValue {
  key: string;
  value?: AnyValue;
}

export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  service: string;
  attributes: Record<string, unknown>;
  resource: Record<string, unknown>;
  events: Array<{ name: string; attributes: Record<string, unknown> }>;
  statusMessage: string;
}

const hex = (bytes: Uint8Array | null | undefined) =>
  bytes && bytes.length > 0 ? Buffer.from(bytes).toString('hex') : undefined;

function attributesOf(list: readonly KeyValue[] | null | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const { key, value } of list ?? []) {
    const int = value?.intValue;
    out[key] =
      value?.stringValue ??
      value?.boolValue ??
      value?.doubleValue ??
      (int == null ? undefined : Number(String(int)));
  }
  return out;
}

/** The parts of OTLP's ExportTraceServiceRequest the tests read (the generated module is typed as a bare Root). */
interface DecodedSpan {
  traceId?: Uint8Array;
  spanId?: Uint8Array;
  parentSpanId?: Uint8Array;
  name?: string;
  attributes?: KeyValue[];
  events?: Array<{ name?: string; attributes?: KeyValue[] }>;
  status?: { message?: string };
}
interface DecodedRequest {
  resourceSpans?: Array<{
    resource?: { attributes?: KeyValue[] };
    scopeSpans?: Array<{ spans?: DecodedSpan[] }>;
  }>;
}
type Decoder = { decode(body: Uint8Array): DecodedRequest };
const ExportTraceServiceRequest = (
  otlp as unknown as { opentelemetry: { proto: { collector: { trace: { v1: Record<string, Decoder> } } } } }
).opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest!;

/** An OTLP/HTTP protobuf trace receiver: keeps every request's raw body and its decoded spans. */
export async function startTraceReceiver(port = TEST_TRACE_RECEIVER_PORT) {
  const spans: ReceivedSpan[] = [];
  const bodies: Buffer[] = [];
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = Buffer.concat(chunks);
      bodies.push(body);
      const decoded = ExportTraceServiceRequest.decode(body);
      for (const resourceSpans of decoded.resourceSpans ?? []) {
        const resource = attributesOf(resourceSpans.resource?.attributes);
        for (const scope of resourceSpans.scopeSpans ?? [])
          for (const span of scope.spans ?? [])
            spans.push({
              traceId: hex(span.traceId)!,
              spanId: hex(span.spanId)!,
              parentSpanId: hex(span.parentSpanId),
              name: span.name ?? '',
              service: String(resource['service.name']),
              attributes: attributesOf(span.attributes),
              resource,
              events: (span.events ?? []).map((event) => ({
                name: event.name ?? '',
                attributes: attributesOf(event.attributes),
              })),
              statusMessage: span.status?.message ?? '',
            });
      }
      response.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/traces`,
    spans,
    /** Every body received, as text, for searching. */
    text: () => Buffer.concat(bodies).toString('latin1'),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
export type TraceReceiver = Awaited<ReturnType<typeof startTraceReceiver>>;
