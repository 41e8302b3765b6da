import { AsyncLocalStorage } from 'node:async_hooks';
import { ApplicationFailure } from '@temporalio/common';
import { FailureType } from '../common/failures.js';

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
