import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

const logPath = (gateway: string) => join(process.cwd(), '.stack', 'gateways', gateway, 'access.log');

/** Where each gateway's log ends now; reading from a mark ignores what earlier tests sent. */
export type GatewayMarks = Record<string, number>;

export function gatewayMarks(): GatewayMarks {
  return Object.fromEntries(
    ['us1', 'ca1', 'eu1'].map((gateway) => [gateway, statSync(logPath(gateway)).size]),
  );
}

/** The log of a region's egress gateway, as the local stack writes it, from a mark on. */
export function gatewayLog(gateway: string, marks: GatewayMarks): string {
  return readFileSync(logPath(gateway))
    .subarray(marks[gateway] ?? 0)
    .toString('utf8');
}

/** Requests the gateway forwarded to `origin` (http://host:port) since the mark, by method, from its own log. */
export function gatewayRequests(
  gateway: string,
  marks: GatewayMarks,
  origin: string,
  method: string,
): number {
  const request = ` method=${method} url=${origin}/`;
  return gatewayLog(gateway, marks)
    .split('\n')
    .filter((l) => l.includes(request) && !l.includes(' server=- ')).length;
}
