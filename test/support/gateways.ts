import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The log of a region's egress gateway, as the local stack writes it. */
export function gatewayLog(gateway: string): string {
  return readFileSync(join(process.cwd(), '.stack', 'gateways', `${gateway}.log`), 'utf8');
}

/** Requests the gateway forwarded to `origin` (http://host:port), by method, from its own log. */
export function gatewayRequests(gateway: string, origin: string, method: string): number {
  const line = `: ${method} ${origin}/`;
  return gatewayLog(gateway)
    .split('\n')
    .filter((l) => l.includes(line)).length;
}
