import { createReadStream } from 'node:fs';
import type { ReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { proxyUserOf, runTag } from '../common/gateway-identity.js';

/** Requests a run sent, by host, as the gateway's own access log records them. */
export type HostCounts = Record<string, number>;

/** `key=value` fields of one gateway log line (the gateway's `tavio` log format). */
function fieldsOf(line: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const part of line.split(' ')) {
    const at = part.indexOf('=');
    if (at > 0) fields.set(part.slice(0, at), part.slice(at + 1));
  }
  return fields;
}

/** The `host:port` (port left out when it is the scheme's default) a logged request went to. */
function hostOf(method: string, url: string): string | undefined {
  if (method === 'CONNECT') return url;
  try {
    return new URL(url).host;
  } catch {
    return undefined;
  }
}

/**
 * Counts the requests of one run that the gateway carried to a destination: lines of the
 * environment's authenticated proxy user naming the run, on which the gateway connected to a
 * server. Refused requests never left and do not count; failed and retried attempts do.
 */
export async function gatewayEgress(
  logFile: string,
  environmentId: string,
  workflowId: string,
): Promise<HostCounts | undefined> {
  const user = proxyUserOf(environmentId);
  const run = runTag(workflowId);
  const counts: HostCounts = {};
  // A log that is not there (not written yet, rotated away) counts nothing: the caller falls back.
  const input = await openLog(logFile);
  if (!input) return undefined;
  const lines = createInterface({ input, crlfDelay: Infinity });
  for await (const line of lines) {
    const fields = fieldsOf(line);
    if (fields.get('env') !== user || fields.get('run') !== run) continue;
    const server = fields.get('server');
    if (!server || server === '-') continue;
    const host = hostOf(fields.get('method') ?? '', fields.get('url') ?? '');
    if (host) counts[host] = (counts[host] ?? 0) + 1;
  }
  return counts;
}

function openLog(path: string): Promise<ReadStream | undefined> {
  return new Promise((resolve, reject) => {
    const stream = createReadStream(path);
    stream.once('open', () => resolve(stream));
    stream.once('error', (error: NodeJS.ErrnoException) =>
      error.code === 'ENOENT' ? resolve(undefined) : reject(error),
    );
  });
}
