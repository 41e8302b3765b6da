import { ApplicationFailure } from '@temporalio/common';
import { ProxyAgent, fetch } from 'undici';
import type { Dispatcher, RequestInit, Response } from 'undici';
import { FailureType } from '../common/failures.js';
import { assertAllowed, countRequest, gatewayFailure } from './egress.js';

/** HTTP for activities, bound to the region's egress gateway. There is no other path out. */
export interface GatewayHttp {
  /** Sends a request (following redirects) to hosts in `allowedHosts` only. */
  fetch(url: string, init: RequestInit, allowedHosts: ReadonlySet<string>): Promise<Response>;
  close(): Promise<void>;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const MAX_REDIRECTS = 5;

/**
 * Every request, each redirect hop included, is checked against the environment's allowlist,
 * counted, and sent through the gateway. Plain-HTTP requests go to the gateway as forward-proxy
 * requests (one gateway log line each); HTTPS requests tunnel through it with CONNECT.
 */
export function createGatewayHttp(gatewayUrl: string, gateway: string): GatewayHttp {
  return createEgressHttp(new ProxyAgent({ uri: gatewayUrl, proxyTunnel: false }), gateway);
}

/** The allowlist, redirect and counting rules over any dispatcher; activities get the gateway's. */
export function createEgressHttp(dispatcher: Dispatcher, gateway = 'direct'): GatewayHttp {
  return {
    async fetch(url, init, allowedHosts) {
      let target = new URL(url);
      let request = init;
      for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
        assertAllowed(allowedHosts, target);
        countRequest(target.host);
        const response = await fetch(target, { ...request, dispatcher, redirect: 'manual' }).catch(
          (error: unknown) => {
            throw gatewayFailure(gateway, error);
          },
        );
        const location = response.headers.get('location');
        if (!REDIRECTS.has(response.status) || !location) return response;
        await response.body?.cancel();
        target = new URL(location, target);
        if (response.status === 303) request = { ...request, method: 'GET', body: undefined };
      }
      throw ApplicationFailure.nonRetryable(
        `more than ${MAX_REDIRECTS} redirects from ${new URL(url).host}`,
        FailureType.EgressRefused,
      );
    },
    close: () => dispatcher.close(),
  };
}
