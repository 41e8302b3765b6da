import { open } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
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

/** A log's size as seen at a time: what is logged after that time lies beyond that size. */
interface Mark {
  at: number;
  /** The file, by inode and first bytes: a log replaced or truncated and written again is another. */
  ino: number;
  head: string;
  size: number;
}

/** Per log file, the sizes its previous reads saw, oldest first. */
const marks = new Map<string, Mark[]>();
const MAX_MARKS = 32;
/** Enough of a log's first line to tell it from another log's (it starts with a time to the millisecond). */
const HEAD_BYTES = 64;
/** A run's own clock (its row's creation time) may run this far ahead of this process's. */
const CLOCK_MARGIN_MS = 30_000;

/**
 * Where to start reading for a run created at `since`: the log is appended to, so nothing of the
 * run lies before the size it had when the run did not exist yet. A log replaced since (rotated)
 * is read from its start.
 */
const sameFile = (a: Pick<Mark, 'ino' | 'head' | 'size'>, b: Mark): boolean =>
  a.ino === b.ino && a.head === b.head && b.size <= a.size;

function startOf(logFile: string, now: Pick<Mark, 'ino' | 'head' | 'size'>, since: number): number {
  let start = 0;
  for (const mark of marks.get(logFile) ?? [])
    if (sameFile(now, mark) && mark.at <= since - CLOCK_MARGIN_MS) start = mark.size;
  return start;
}

function remember(logFile: string, mark: Mark): void {
  const known = (marks.get(logFile) ?? []).filter((m) => sameFile(mark, m));
  known.push(mark);
  marks.set(logFile, known.slice(-MAX_MARKS));
}

/**
 * Counts the requests of one run that the gateway carried to a destination: lines of the
 * environment's authenticated proxy user naming the run, on which the gateway connected to a
 * server. Refused requests never left and do not count; failed and retried attempts do. Only what
 * was logged after the run was created (`since`) is read, as far as earlier reads tell where that
 * starts.
 */
export async function gatewayEgress(
  logFile: string,
  environmentId: string,
  workflowId: string,
  since: Date,
): Promise<HostCounts | undefined> {
  const user = proxyUserOf(environmentId);
  const run = runTag(workflowId);
  const counts: HostCounts = {};
  // A log that is not there (not written yet, rotated away) counts nothing: the caller falls back.
  const file = await openLog(logFile);
  if (!file) return undefined;
  try {
    const { ino, size } = await file.stat();
    const first = await file.read({ buffer: Buffer.alloc(HEAD_BYTES), position: 0 });
    const now = { ino, size, head: first.buffer.subarray(0, first.bytesRead).toString('hex') };
    const start = startOf(logFile, now, since.getTime());
    // Taken after the size: whatever is logged from now on lies beyond it.
    remember(logFile, { ...now, at: Date.now() });
    const input = file.createReadStream({ start, autoClose: false });
    for await (const line of createInterface({ input, crlfDelay: Infinity })) {
      if (!line.includes(run)) continue;
      const fields = fieldsOf(line);
      if (fields.get('env') !== user || fields.get('run') !== run) continue;
      const server = fields.get('server');
      if (!server || server === '-') continue;
      const host = hostOf(fields.get('method') ?? '', fields.get('url') ?? '');
      if (host) counts[host] = (counts[host] ?? 0) + 1;
    }
  } finally {
    await file.close();
  }
  return counts;
}

async function openLog(path: string): Promise<FileHandle | undefined> {
  try {
    return await open(path, 'r');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}
