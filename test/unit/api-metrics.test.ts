import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { ProblemError, installProblemHandlers } from '../../control-api/problems.js';
import { UNMATCHED_ROUTE, createApiMetrics, installApiMetrics } from '../../common/telemetry/api-metrics.js';

describe('control API metrics', () => {
  it('labels requests by route pattern and counts each problem document by its type', async () => {
    const metrics = createApiMetrics();
    const app = Fastify();
    installProblemHandlers(app);
    installApiMetrics(app, metrics);
    app.get('/v1/things/:id', async (request) => {
      if ((request.params as { id: string }).id === 'gone') throw new ProblemError(410, 'thing-gone', 'Gone');
      return { ok: true };
    });
    await app.ready();
    for (const url of ['/v1/things/acme-1', '/v1/things/acme-2', '/v1/things/gone', '/v1/secret-slug'])
      await app.inject({ method: 'GET', url });
    const text = await metrics.render();
    expect(text).toContain('tavio_http_requests_total{method="GET",route="/v1/things/:id",status="200"} 2');
    expect(text).toContain('tavio_http_requests_total{method="GET",route="/v1/things/:id",status="410"} 1');
    expect(text).toContain(
      `tavio_http_requests_total{method="GET",route="${UNMATCHED_ROUTE}",status="404"} 1`,
    );
    expect(text).toContain(
      'tavio_http_request_duration_seconds_count{method="GET",route="/v1/things/:id"} 3',
    );
    expect(text).toContain('tavio_problems_total{type="thing-gone"} 1');
    expect(text).toContain('tavio_problems_total{type="not-found"} 1');
    for (const value of ['acme-1', 'acme-2', 'secret-slug', '/gone']) expect(text).not.toContain(value);
    await app.close();
  });
});
