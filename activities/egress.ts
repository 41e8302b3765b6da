import { AsyncLocalStorage } from 'node:async_hooks';
import { ApplicationFailure } from '@temporalio/common';
import { FailureType, RetryableType } from '../common/failures.js';

/** Requests an activity sent through the gateway, by host (`host:port`). */
export type EgressTally = Record<string, number>;

const current = new AsyncLocalStorage<Map<string, number>>();

/** Runs `work` with a fresh tally that every outbound request made inside it is counted in. */
export async function withEgressTally<T>(
  work: () => Promise<T>,
): Promise<{ result: T; egress: EgressTally }> {
  const tally = new Map<string, number>();
  const result = await current.run(tally, work);
  return { result, egress: Object.fromEntries(tally) };
}

export function countRequest(host: string): void {
  const tally = current.getStore();
  tally?.set(host, (tally.get(host) ?? 0) + 1);
}

/**
 * Refuses, before a byte is sent, a request to a host that is not the host of one of the
 * environment's connections in use.
 */
export function assertAllowed(allowedHosts: ReadonlySet<string>, url: URL): void {
  if (!allowedHosts.has(url.host)) {
    throw ApplicationFailure.nonRetryable(
      `egress to ${url.host} refused: it is not the host of one of this environment's connections`,
      FailureType.EgressRefused,
    );
  }
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
