import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { FastifyInstance } from 'fastify';

export const REQUEST_ID_HEADER = 'x-request-id';
/** A caller's request id is taken as it is when it looks like an id: no spaces, quotes or markup. */
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * The request's id: the caller's `X-Request-Id` when it is a plain id of at most 128 characters
 * (a proxy or client correlating its own logs), else a fresh UUID. Any other value is ignored, so
 * a log line never carries what a caller wrote in place of an id.
 */
export function requestIdOf(request: IncomingMessage): string {
  const given = request.headers[REQUEST_ID_HEADER];
  return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
}

/** Fastify options: each request's log lines carry its id as `reqId` (Fastify's label), from `requestIdOf`. */
export const requestIdOptions = {
  genReqId: requestIdOf,
  requestIdHeader: false,
} as const;

/** Every answer names its request id, which the API's log lines of that request carry. */
export function installRequestIdHeader(app: FastifyInstance): void {
  app.addHook('onRequest', async (request, reply) => {
    void reply.header(REQUEST_ID_HEADER, request.id);
  });
}
