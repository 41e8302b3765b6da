import { AsyncLocalStorage } from 'node:async_hooks';
import { Context } from '@temporalio/activity';
import { ApplicationFailure, TemporalFailure } from '@temporalio/common';
import { FailureType, RetryableType } from '../common/failures.js';
import { GATEWAY_REFUSALS } from '../common/gateway-identity.js';

/** Requests an activity sent through the gateway, by host (`host:port`). */
export type EgressTally = Record<string, number>;

/** What every request of one activity attempt shares: its tally, the signal that ends it, its run. */
interface EgressScope {
  tally: Map<string, number>;
  signal: AbortSignal | undefined;
  /** The workflow id of the run the attempt belongs to: the gateway logs it with each request. */
  run?: string;
}

const current = new AsyncLocalStorage<EgressScope>();

/**
 * Runs `work` with a fresh tally that every outbound request made inside it is counted in; when
 * `signal` is given, every request made inside it is aborted when it fires.
 */
export async function withEgressTally<T>(
  work: () => Promise<T>,
  signal?: AbortSignal,
  run?: string,
): Promise<{ result: T; egress: EgressTally }> {
  const tally = new Map<string, number>();
  const result = await current.run({ tally, signal, run }, work);
  return { result, egress: Object.fromEntries(tally) };
}

export function countRequest(host: string): void {
  const tally = current.getStore()?.tally;
  tally?.set(host, (tally.get(host) ?? 0) + 1);
}

/** The run whose attempt is sending, if any. */
export function currentRun(): string | undefined {
  return current.getStore()?.run;
}

/** The signal that ends the current attempt's requests, if `work` runs inside an attempt. */
export function attemptSignal(): AbortSignal | undefined {
  return current.getStore()?.signal;
}

/** Heartbeats without a heartbeat timeout only need to be frequent enough to deliver a cancellation. */
const DEFAULT_HEARTBEAT_INTERVAL_MS = 10_000;

/**
 * Runs one activity attempt's egress. Its requests end when the activity is cancelled (which
 * includes Temporal giving up on the attempt: the heartbeat after a timeout is answered "not
 * found") or when the attempt's start-to-close time is up, whichever comes first, so that a slow
 * upstream cannot hold a connection and an activity slot while Temporal runs the next attempt.
 * Cancellation reaches an activity only through heartbeats, hence the ticker.
 */
export async function withActivityEgress<T>(
  work: () => Promise<T>,
  /** What each heartbeat carries (an attempt's progress, for its retry to resume from). */
  details: () => unknown = () => undefined,
): Promise<{ result: T; egress: EgressTally }> {
  const ctx = Context.current();
  const { startToCloseTimeoutMs, heartbeatTimeoutMs } = ctx.info;
  // Started locally a little after the server started the attempt: end a little before it does.
  const budget = startToCloseTimeoutMs - Math.min(1000, startToCloseTimeoutMs / 10);
  const signal = AbortSignal.any([ctx.cancellationSignal, AbortSignal.timeout(Math.max(1, budget))]);
  const interval = heartbeatTimeoutMs ? heartbeatTimeoutMs / 3 : DEFAULT_HEARTBEAT_INTERVAL_MS;
  const ticker = setInterval(() => ctx.heartbeat(details()), interval);
  try {
    ctx.heartbeat(details());
    return await withEgressTally(work, signal, ctx.info.workflowExecution?.workflowId);
  } finally {
    clearInterval(ticker);
  }
}

/**
 * What an aborted request, or the read of its body, becomes: the activity's cancellation as is,
 * so that Temporal records the attempt as cancelled; the attempt's deadline as a retryable failure
 * that says so; anything else unchanged.
 */
export function abortFailure(error: unknown, what: string): unknown {
  if (error instanceof TemporalFailure) return error;
  if ((error as { name?: unknown } | null)?.name === 'TimeoutError') {
    return ApplicationFailure.retryable(
      `request to ${what} abandoned: the attempt's start-to-close time ran out`,
      RetryableType.RequestTimedOut,
    );
  }
  return error;
}

/**
 * Refuses, before a byte is sent, a request to a host that is not the host of one of the
 * environment's connections in use.
 */
export function assertAllowed(allowedHosts: ReadonlySet<string>, url: URL): void {
  if (!allowedHosts.has(url.host)) {
    throw ApplicationFailure.nonRetryable(
      `egress to ${namedHost(url)} refused: it is not the host of one of this environment's connections`,
      FailureType.EgressRefused,
    );
  }
}

/** A DNS name has at most 253 characters; a redirect may name anything, and failures enter histories. */
const MAX_NAMED_HOST = 253;

/** A host as failure messages may name it: an upstream-chosen host longer than a DNS name is not quoted. */
export function namedHost(url: URL): string {
  return url.host.length <= MAX_NAMED_HOST ? url.host : `a host of ${url.host.length} characters`;
}

const CONNECTION_ERRORS = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EHOSTUNREACH',
  'ETIMEDOUT',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
]);

function connectionErrorCode(error: unknown): string | undefined {
  for (let current: unknown = error; current instanceof Error; current = current.cause) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && CONNECTION_ERRORS.has(code)) return code;
  }
  return undefined;
}

/**
 * A refusal by the gateway itself (a 403 with one of its refusal pages, or a refused tunnel) as a
 * non-retryable `EgressRefused` naming host and reason; a 407 (the worker's proxy credentials were
 * just rotated, or the gateway has not seen them yet) as retryable. Anything else: undefined.
 */
export function gatewayRefusal(
  url: URL,
  status: number,
  squidError: string | null,
): ApplicationFailure | undefined {
  if (status === 407) {
    return ApplicationFailure.retryable(
      `gateway refused this worker's proxy credentials for ${namedHost(url)}`,
      RetryableType.GatewayUnavailable,
    );
  }
  const page = squidError?.split(' ')[0] ?? '';
  const reason = Object.hasOwn(GATEWAY_REFUSALS, page)
    ? GATEWAY_REFUSALS[page as keyof typeof GATEWAY_REFUSALS]
    : undefined;
  if (status !== 403 || !reason) return undefined;
  return ApplicationFailure.nonRetryable(
    `egress to ${namedHost(url)} refused by the gateway: ${reason}`,
    FailureType.EgressRefused,
  );
}

/** A tunnel (CONNECT) the gateway answered with anything but 200, as undici reports it. */
export function tunnelRefusal(url: URL, error: unknown): ApplicationFailure | undefined {
  for (let current: unknown = error; current instanceof Error; current = current.cause) {
    const status = /Proxy response \((\d{3})\) !== 200/.exec(current.message)?.[1];
    if (status === '407') return gatewayRefusal(url, 407, null);
    if (status) {
      return ApplicationFailure.nonRetryable(
        `egress to ${namedHost(url)} refused by the gateway (tunnel answered ${status})`,
        FailureType.EgressRefused,
      );
    }
  }
  return undefined;
}

/**
 * A request that could not reach the gateway becomes a retryable failure that says so, plainly, in
 * the run's pending activity: the run waits for the gateway and never goes around it.
 */
export function gatewayFailure(gateway: string, error: unknown): unknown {
  const code = connectionErrorCode(error);
  if (!code) return error;
  return ApplicationFailure.retryable(
    `gateway ${gateway} is unreachable (${code}); the request waits for it and is never sent directly`,
    RetryableType.GatewayUnavailable,
  );
}
