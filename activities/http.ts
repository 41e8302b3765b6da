import { ProxyAgent, fetch } from 'undici';
import type { RequestInit, Response } from 'undici';

/** HTTP for activities, bound to the region's egress gateway. There is no other path out. */
export interface GatewayHttp {
  fetch(url: string, init?: RequestInit): Promise<Response>;
  close(): Promise<void>;
}

export function createGatewayHttp(gatewayUrl: string): GatewayHttp {
  const dispatcher = new ProxyAgent({ uri: gatewayUrl });
  return {
    // Redirects are followed by the same dispatcher, so they leave through the gateway too.
    fetch: (url, init) => fetch(url, { ...init, dispatcher }),
    close: () => dispatcher.close(),
  };
}
