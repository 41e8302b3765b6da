import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { connect } from 'node:net';
import { Agent } from 'undici';
import { FIXTURE_HOST, closeServer, readBody, serve } from '../../fixtures/serve.js';

/** A request as the upstream received it. */
export interface Seen {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

export type Handler = (req: IncomingMessage, res: ServerResponse, seen: Seen) => void;

/**
 * A loopback HTTP server whose behaviour each test sets: records what reached it and how many of
 * its connections were closed (by either side).
 */
export interface Upstream {
  url: string;
  host: string;
  seen: Seen[];
  closedConnections: number;
  handle: Handler;
  close(): Promise<void>;
}

export async function startUpstream(handle: Handler = (_req, res) => res.end()): Promise<Upstream> {
  const upstream: Upstream = {
    url: '',
    host: '',
    seen: [],
    closedConnections: 0,
    handle,
    close: async () => undefined,
  };
  const { server, url } = await serve((req, res) => {
    void readBody(req).then((body) => {
      const seen = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body };
      upstream.seen.push(seen);
      upstream.handle(req, res, seen);
    });
  });
  server.on('connection', (socket) => socket.once('close', () => (upstream.closedConnections += 1)));
  upstream.url = url;
  upstream.host = new URL(url).host;
  upstream.close = () => closeServer(server);
  return upstream;
}

/** Resolves once `condition` holds, or rejects after `ms`. */
export async function until(condition: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > end) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/**
 * An Agent that connects every `https:` origin named in `routes` (by hostname) to a loopback
 * port in plain TCP: the redirect rules see an https URL without the test needing a certificate.
 */
export function plainTextAgent(routes: Record<string, number>): Agent {
  return new Agent({
    connect: (options, callback) => {
      const port = routes[options.hostname];
      if (port === undefined) return callback(new Error(`no route for ${options.hostname}`), null);
      const socket = connect({ host: FIXTURE_HOST, port });
      socket.once('connect', () => callback(null, socket));
      socket.once('error', (error) => callback(error, null));
    },
  });
}

/** Writes `total` bytes as fast as the client takes them; resolves with the bytes written when the connection closes. */
export function stream(res: ServerResponse, total: number, chunk = 64 * 1024): Promise<number> {
  let written = 0;
  let open = true;
  const closed = new Promise<number>((resolve) => res.once('close', () => resolve(written)));
  res.once('close', () => (open = false));
  const piece = Buffer.alloc(chunk, 0x61);
  const pump = () => {
    while (open && written < total) {
      written += chunk;
      if (!res.write(piece)) return void res.once('drain', pump);
    }
    if (open) res.end();
  };
  pump();
  return closed;
}
