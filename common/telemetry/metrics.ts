import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Registry, collectDefaultMetrics } from 'prom-client';

/** The content type of Prometheus' text exposition format, version 0.0.4. */
export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** A registry of this process alone, with Node's process metrics (CPU, memory, event loop). */
export function createProcessRegistry(defaultLabels: Record<string, string> = {}): Registry {
  const registry = new Registry();
  registry.setDefaultLabels(defaultLabels);
  collectDefaultMetrics({ register: registry });
  return registry;
}

export interface MetricsListener {
  /** Where Prometheus scrapes: `http://<host>:<bound port>/metrics`. */
  url: string;
  close(): Promise<void>;
}

/**
 * Serves `GET /metrics` on a listener of its own, apart from any public port, so that metrics are
 * reached only where the operator binds them (loopback by default). Port 0 binds a free port.
 * With `ready`, it also answers `GET /healthz` (liveness: the process answers) and `GET /readyz`
 * (200 while `ready()` holds, else 503), for a process with no other HTTP port.
 */
export async function serveMetrics(
  render: () => Promise<string>,
  where: { host: string; port: number },
  ready?: () => boolean,
): Promise<MetricsListener> {
  const server = createServer((request, response) => {
    const path = request.method === 'GET' ? request.url?.split('?')[0] : undefined;
    if (ready && (path === '/healthz' || path === '/readyz')) {
      const status = path === '/healthz' ? 'ok' : ready() ? 'ready' : 'not-ready';
      response
        .writeHead(status === 'not-ready' ? 503 : 200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ status }));
      return;
    }
    if (path !== '/metrics') {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('not found: GET /metrics\n');
      return;
    }
    render().then(
      (text) => response.writeHead(200, { 'content-type': PROMETHEUS_CONTENT_TYPE }).end(text),
      (error: Error) => response.writeHead(500, { 'content-type': 'text/plain' }).end(`${error.name}\n`),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(where.port, where.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const host = where.host.includes(':') ? `[${where.host}]` : where.host;
  return {
    url: `http://${host}:${port}/metrics`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
