import { createServer, request } from 'node:http';
import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import { Connection } from '@temporalio/client';
import { temporalConnectOptions, temporalConnectionAt } from '../../common/temporal-connection.js';
import type { TemporalConnectOptions } from '../../common/temporal-connection.js';
import { StackError, type Report } from './config.js';
import { isAlive, sleep, tailLog } from './process.js';

const PROBE_TIMEOUT_MS = 2_000;
const POLL_INTERVAL_MS = 250;
const NOTICE_INTERVAL_MS = 10_000;

interface ProxyTarget {
  host: string;
  port: number;
}

/** A TCP port on 127.0.0.1 that nothing listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

/** Status and headers of a GET, or undefined when nothing answered in time; with a proxy, sends the absolute URI to it. */
export function httpAnswer(
  url: string,
  proxy?: ProxyTarget,
): Promise<{ status: number | undefined; headers: Record<string, unknown> } | undefined> {
  const target = new URL(url);
  return new Promise((resolve) => {
    const req = request(
      {
        host: proxy?.host ?? target.hostname,
        port: proxy?.port ?? target.port,
        path: proxy === undefined ? `${target.pathname}${target.search}` : url,
        method: 'GET',
        headers: { host: target.host },
        timeout: PROBE_TIMEOUT_MS,
        // A kept-alive socket that the proxy already closed would fail the next probe.
        agent: false,
      },
      (res) => {
        res.resume();
        resolve({ status: res.statusCode, headers: res.headers });
      },
    );
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(undefined));
    req.end();
  });
}

export async function httpStatus(url: string, proxy?: ProxyTarget): Promise<number | undefined> {
  return (await httpAnswer(url, proxy))?.status;
}

export async function httpOk(url: string, proxy?: ProxyTarget): Promise<boolean> {
  return (await httpStatus(url, proxy)) === 200;
}

/** True when something accepts TCP connections on 127.0.0.1:port. */
export function portInUse(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port, timeout: PROBE_TIMEOUT_MS });
    const finish = (inUse: boolean): void => {
      socket.destroy();
      resolve(inUse);
    };
    socket.once('connect', () => finish(true));
    socket.once('timeout', () => finish(false));
    socket.once('error', () => finish(false));
  });
}

/** Whether Temporal answers at `address`, reached with `options` (TLS, credentials; no token is needed). */
export async function temporalGrpcHealthy(
  address: string,
  options: TemporalConnectOptions = temporalConnectOptions(temporalConnectionAt(address, {})),
): Promise<boolean> {
  let connection: Connection | undefined;
  try {
    connection = await Connection.connect({ ...options, connectTimeout: PROBE_TIMEOUT_MS });
    const conn = connection;
    await conn.withDeadline(Date.now() + PROBE_TIMEOUT_MS, () => conn.workflowService.getSystemInfo({}));
    return true;
  } catch {
    return false;
  } finally {
    await connection?.close().catch(() => undefined);
  }
}

export interface WaitSpec {
  name: string;
  check: () => Promise<boolean>;
  deadlineMs: number;
  logFiles: readonly string[];
  report: Report;
  /** Process to watch: if it exits the wait fails at once instead of at the deadline. */
  pid?: number | undefined;
}

export async function waitHealthy(spec: WaitSpec): Promise<void> {
  const started = Date.now();
  let nextNotice = started + NOTICE_INTERVAL_MS;
  for (;;) {
    if (await spec.check()) return;
    if (spec.pid !== undefined && !isAlive(spec.pid)) {
      throw new StackError(
        `${spec.name}: process ${spec.pid} exited before becoming healthy.\n${logTails(spec.logFiles)}`,
      );
    }
    const elapsed = Date.now() - started;
    if (elapsed > spec.deadlineMs) {
      throw new StackError(
        `${spec.name}: not healthy after ${Math.round(elapsed / 1000)} s.\n${logTails(spec.logFiles)}`,
      );
    }
    if (Date.now() >= nextNotice) {
      spec.report(
        `${spec.name}: still waiting for health (${Math.round(elapsed / 1000)} s of ${spec.deadlineMs / 1000} s)...`,
      );
      nextNotice += NOTICE_INTERVAL_MS;
    }
    await sleep(POLL_INTERVAL_MS);
  }
}

export function logTails(files: readonly string[]): string {
  return files.map((file) => tailLog(file)).join('\n');
}
