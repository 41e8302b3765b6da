import { ApplicationFailure } from '@temporalio/common';
import { pipeline } from 'node:stream';
import type { Readable, Transform } from 'node:stream';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';
import { Headers, ProxyAgent, request as send } from 'undici';
import type { Dispatcher } from 'undici';
import { FailureType } from '../common/failures.js';
import { RUN_HEADER, runTag } from '../common/gateway-identity.js';
import type { ProxyCredentials } from '../common/worker-secrets.js';
import {
  abortFailure,
  assertAllowed,
  attemptSignal,
  countRequest,
  currentRun,
  gatewayFailure,
  gatewayRefusal,
  namedHost,
  tunnelRefusal,
} from './egress.js';

/** A request an activity sends: its method, headers, a body of text, and what aborts it. */
export interface RequestInit {
  method?: string;
  headers?: Record<string, string> | Headers;
  body?: string;
  signal?: AbortSignal;
  /** `manual`: a redirect is answered as it came, never followed. Redirects are followed by default. */
  redirect?: 'follow' | 'manual';
}

/**
 * An answer: status, headers, and the body as a stream of bytes (decompressed when the server
 * encoded it anyway; nothing asks it to). `cancel` discards the body and closes its connection.
 */
export interface Response {
  status: number;
  ok: boolean;
  headers: { get(name: string): string | null };
  body: AsyncIterable<Uint8Array>;
  cancel(): Promise<void>;
}

/** HTTP for activities, bound to the region's egress gateway. There is no other path out. */
export interface GatewayHttp {
  /**
   * Sends a request (following a few redirects, unless `init.redirect` is `manual`) to hosts in
   * `allowedHosts` only. It is aborted by `init.signal` and, inside an activity attempt, when the
   * attempt is cancelled or out of time.
   */
  fetch(url: string, init: RequestInit, allowedHosts: ReadonlySet<string>): Promise<Response>;
  close(): Promise<void>;
}

const DECODERS: Record<string, () => Transform> = {
  gzip: createGunzip,
  'x-gzip': createGunzip,
  deflate: createInflate,
  br: createBrotliDecompress,
};

/** The answer of undici's `request`, as activities read it. */
function answerOf(answer: Dispatcher.ResponseData): Response {
  const header = (name: string): string | null => {
    const value = answer.headers[name.toLowerCase()];
    return value === undefined ? null : Array.isArray(value) ? value.join(', ') : value;
  };
  const decoder = DECODERS[(header('content-encoding') ?? '').trim().toLowerCase()];
  const raw = answer.body;
  // A failure on either side of a decoder (a corrupt encoding, an aborted read) ends both, and
  // with them the connection.
  const body: Readable = decoder ? pipeline(raw, decoder(), () => undefined) : raw;
  // A body aborted (its attempt ended) or cancelled while nobody reads it must not crash the
  // worker: its errors reach whoever reads it, through the stream, and are otherwise dropped.
  raw.on('error', () => undefined);
  body.on('error', () => undefined);
  return {
    status: answer.statusCode,
    ok: answer.statusCode >= 200 && answer.statusCode < 300,
    headers: { get: header },
    body,
    cancel: async () => {
      raw.destroy();
      body.destroy();
    },
  };
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
/** APIs redirect once or twice (a moved path, a regional host); more is a loop or a probe. */
export const MAX_REDIRECTS = 3;

/**
 * Headers that may follow a redirect to another origin. Everything else is dropped: besides
 * `authorization`, `cookie` and `proxy-authorization`, APIs put credentials in headers of their
 * own naming (`x-api-key`, `x-auth-token`, signatures), so a list of what to drop would leak the
 * next one.
 */
const CROSS_ORIGIN_HEADERS = new Set(['accept', 'accept-encoding', 'accept-language', 'user-agent']);
/** Headers that describe a body, dropped with it when a redirect turns the request into a GET. */
const BODY_HEADERS = [
  'content-type',
  'content-length',
  'content-encoding',
  'content-language',
  'content-location',
];

function refused(message: string): ApplicationFailure {
  return ApplicationFailure.nonRetryable(message, FailureType.EgressRefused);
}

/**
 * The request to send to `next` after `status` from `from`, or a refusal:
 * - https never becomes http (the credentials and data would cross the network in clear);
 * - a 303 of anything but GET and HEAD, and a 301/302 of a POST, become a GET without a body (as
 *   the Fetch standard and browsers do);
 * - to another origin, only the headers in `CROSS_ORIGIN_HEADERS` follow;
 * - a 307/308 to another origin of a request with a body is refused rather than followed: 307 and
 *   308 promise the same method and body, so following would either re-send the body (customer
 *   records) to a host that the caller never chose, or send a body-less request that the caller
 *   did not mean.
 */
function redirected(init: RequestInit, status: number, from: URL, next: URL): RequestInit {
  if (next.protocol !== 'http:' && next.protocol !== 'https:') {
    throw refused(`redirect from ${from.host} to a URL that is neither http nor https refused`);
  }
  if (from.protocol === 'https:' && next.protocol !== 'https:') {
    throw refused(
      `redirect from https://${from.host} to http://${namedHost(next)} refused: it downgrades to plain HTTP`,
    );
  }
  const method = (init.method ?? 'GET').toUpperCase();
  const headers = new Headers(init.headers as Record<string, string>);
  let request: RequestInit = { ...init, headers };
  if (
    status === 303
      ? method !== 'GET' && method !== 'HEAD'
      : (status === 301 || status === 302) && method === 'POST'
  ) {
    for (const name of BODY_HEADERS) headers.delete(name);
    request = { ...request, method: 'GET', body: undefined };
  }
  if (next.origin === from.origin) return request;
  if (request.body !== undefined && request.body !== null) {
    throw refused(
      `redirect ${status} from ${from.host} to ${namedHost(next)} refused: it would re-send the request body to another origin`,
    );
  }
  for (const name of [...headers.keys()]) {
    if (!CROSS_ORIGIN_HEADERS.has(name)) headers.delete(name);
  }
  return request;
}

function signalOf(init: RequestInit): AbortSignal | undefined {
  const signals = [init.signal ?? undefined, attemptSignal()].filter(
    (s): s is AbortSignal => s !== undefined,
  );
  return signals.length > 1 ? AbortSignal.any(signals) : signals[0];
}

/** Agents kept at once: one per run in flight and credential; older ones close once idle. */
const MAX_GATEWAY_AGENTS = 16;
/**
 * Connections an agent opens per destination through the gateway; more requests wait for one. With
 * the worker's 10 activity slots (each reaching a source and a destination) and the S3/KMS clients'
 * 16 sockets (activities/aws.ts), a worker stays under the connections its sandbox allows it to the
 * gateway (workers/sandbox.ts), where one more would be reset.
 */
const CONNECTIONS_PER_AGENT = 2;

export const proxyAuthorization = (credentials: ProxyCredentials): string =>
  `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64')}`;

/**
 * Every request, each redirect hop included, is checked against the environment's allowlist,
 * counted, and sent through the gateway, authenticated as the environment and naming its run.
 * Plain-HTTP requests go to the gateway as forward-proxy requests (one gateway log line each);
 * HTTPS requests tunnel through it with CONNECT. The gateway applies its own rules again.
 */
export function createGatewayHttp(
  gatewayUrl: string,
  gateway: string,
  credentials: () => ProxyCredentials,
): GatewayHttp {
  const agents = new Map<string, ProxyAgent>();
  const dispatcher = (): Dispatcher => {
    const current = credentials();
    const run = currentRun();
    const key = `${current.username}:${current.password}:${run ?? ''}`;
    let agent = agents.get(key);
    if (!agent) {
      agent = new ProxyAgent({
        uri: gatewayUrl,
        proxyTunnel: false,
        connections: CONNECTIONS_PER_AGENT,
        token: proxyAuthorization(current),
        headers: run === undefined ? {} : { [RUN_HEADER]: runTag(run) },
      });
      agents.set(key, agent);
      for (const [oldKey, old] of agents) {
        if (agents.size <= MAX_GATEWAY_AGENTS) break;
        agents.delete(oldKey);
        void old.close();
      }
    }
    return agent;
  };
  const http = createEgressHttp(dispatcher, gateway);
  return {
    fetch: http.fetch,
    close: async () => {
      await Promise.all([...agents.values()].map((agent) => agent.close()));
    },
  };
}

/** The allowlist, redirect and counting rules over any dispatcher; activities get the gateway's. */
export function createEgressHttp(
  dispatcherOf: Dispatcher | (() => Dispatcher),
  /** The gateway the dispatcher leads through, whose refusals it recognises; none: direct (tests). */
  gateway?: string,
): GatewayHttp {
  const currentDispatcher = typeof dispatcherOf === 'function' ? dispatcherOf : () => dispatcherOf;
  return {
    async fetch(url, init, allowedHosts) {
      let target = new URL(url);
      const signal = signalOf(init);
      let request: RequestInit = { ...init, signal };
      for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
        assertAllowed(allowedHosts, target);
        countRequest(target.host);
        const host = target.host;
        const dispatcher = currentDispatcher();
        const sent = target;
        const response = await send(target, {
          method: (request.method ?? 'GET') as Dispatcher.HttpMethod,
          headers: Object.fromEntries(new Headers(request.headers as Record<string, string>)),
          body: request.body,
          signal: request.signal,
          dispatcher,
        }).then(answerOf, (error: unknown) => {
          if (signal?.aborted) throw abortFailure(signal.reason, host);
          throw (gateway && tunnelRefusal(sent, error)) ?? gatewayFailure(gateway ?? 'direct', error);
        });
        if (gateway) {
          const refusal = gatewayRefusal(target, response.status, response.headers.get('x-squid-error'));
          if (refusal) {
            await response.cancel();
            throw refusal;
          }
        }
        const location = response.headers.get('location');
        if (request.redirect === 'manual' || !REDIRECTS.has(response.status) || !location) return response;
        await response.cancel();
        const next = URL.parse(location, target.href);
        if (!next) throw refused(`redirect from ${target.host} to an invalid location refused`);
        request = redirected(request, response.status, target, next);
        target = next;
      }
      throw refused(`more than ${MAX_REDIRECTS} redirects from ${new URL(url).host}`);
    },
    close: () => (typeof dispatcherOf === 'function' ? Promise.resolve() : dispatcherOf.close()),
  };
}
