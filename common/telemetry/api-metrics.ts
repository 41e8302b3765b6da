import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Counter, Histogram } from 'prom-client';
import { createProcessRegistry } from './metrics.js';

/** The route label of a request that matched no route: never its URL, which may name anything. */
export const UNMATCHED_ROUTE = 'unmatched';
const PROBLEM_TYPE_PREFIX = 'https://tavio.dev/problems/';
const PROBLEM_KIND = /^[a-z0-9][a-z0-9-]{0,63}$/;

/** The control API's series: requests, latencies and problem documents by type. */
export function createApiMetrics() {
  const registry = createProcessRegistry();
  const requests = new Counter({
    name: 'tavio_http_requests_total',
    help: 'Requests answered by the control API, by route pattern and status',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'tavio_http_request_duration_seconds',
    help: 'Time from request to response, by route pattern',
    labelNames: ['method', 'route'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const problems = new Counter({
    name: 'tavio_problems_total',
    help: 'Problem documents (RFC 9457) answered, by problem type',
    labelNames: ['type'] as const,
    registers: [registry],
  });
  return { registry, requests, duration, problems, render: () => registry.metrics() };
}
export type ApiMetrics = ReturnType<typeof createApiMetrics>;

/** The route pattern (`/v1/organizations/:org`), never the URL: slugs and ids stay out of labels. */
const routeOf = (request: FastifyRequest): string => request.routeOptions.url ?? UNMATCHED_ROUTE;

/** The kind of a problem document's `type`; one that is not a Tavio problem type counts as `other`. */
function problemKindOf(payload: unknown): string | undefined {
  if (typeof payload !== 'string') return undefined;
  try {
    const type = (JSON.parse(payload) as { type?: unknown }).type;
    const kind =
      typeof type === 'string' && type.startsWith(PROBLEM_TYPE_PREFIX)
        ? type.slice(PROBLEM_TYPE_PREFIX.length)
        : '';
    return PROBLEM_KIND.test(kind) ? kind : 'other';
  } catch {
    return 'other';
  }
}

const isProblem = (reply: FastifyReply): boolean =>
  String(reply.getHeader('content-type') ?? '').startsWith('application/problem+json');

/**
 * Counts every answer of `app`. Problems are counted where they leave the API (on send), so that
 * each problem document counts once, whichever handler or route made it.
 */
export function installApiMetrics(app: FastifyInstance, metrics: ApiMetrics): void {
  app.addHook('onSend', async (_request, reply, payload) => {
    if (isProblem(reply)) {
      const kind = problemKindOf(payload);
      if (kind) metrics.problems.inc({ type: kind });
    }
    return payload;
  });
  app.addHook('onResponse', async (request, reply) => {
    const route = routeOf(request);
    metrics.requests.inc({ method: request.method, route, status: String(reply.statusCode) });
    metrics.duration.observe({ method: request.method, route }, reply.elapsedTime / 1000);
  });
}
