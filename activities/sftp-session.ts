import { once } from 'node:events';
import { request } from 'node:http';
import type { Socket } from 'node:net';
import { ApplicationFailure } from '@temporalio/common';
import ssh2 from 'ssh2';
import type { SFTPWrapper, Stats } from 'ssh2';
import { FailureType, RetryableType } from '../common/failures.js';
import { RUN_HEADER, runTag } from '../common/gateway-identity.js';
import type { SftpCredentials } from '../common/connections.js';
import { sshFingerprint } from '../common/ssh-fingerprint.js';
import { gatewayFailure, gatewayRefusal } from './egress.js';

/** How a worker reaches the outside: its region's gateway, as its environment's proxy user. */
export interface GatewayRoute {
  /** The gateway's URL (http://host:port). */
  url: string;
  /** The gateway's code (us1...), for messages. */
  code: string;
  /** The `Proxy-Authorization` value of the environment's proxy user. */
  authorization: string;
  /** The workflow id of the run the session is for: the gateway logs it. */
  run?: string;
}

export interface SftpSession {
  sftp: SFTPWrapper;
  close(): void;
}

/** How long opening a session may take: tunnel, SSH handshake, sign-in and the SFTP channel. */
const OPEN_TIMEOUT_MS = 20_000;
const SFTP_PORT = 22;

/** `host:port` of an sftp:// URL, its port 22 when it names none (the URL parser knows no default for sftp). */
const endpointOf = (target: URL): string => `${target.hostname}:${target.port || SFTP_PORT}`;

/**
 * A TCP tunnel to `host:port` through the gateway (HTTP CONNECT): the gateway decides, as for any
 * request, whether this environment may reach that endpoint.
 */
async function tunnel(gateway: GatewayRoute, target: URL, signal: AbortSignal): Promise<Socket> {
  const proxy = new URL(gateway.url);
  const connect = request({
    host: proxy.hostname,
    port: proxy.port,
    method: 'CONNECT',
    path: endpointOf(target),
    headers: {
      host: endpointOf(target),
      'proxy-authorization': gateway.authorization,
      ...(gateway.run === undefined ? {} : { [RUN_HEADER]: runTag(gateway.run) }),
    },
    signal,
  });
  connect.end();
  let answer: Awaited<ReturnType<typeof once>>;
  try {
    answer = await once(connect, 'connect', { signal });
  } catch (error) {
    throw gatewayFailure(gateway.code, error);
  }
  const [response, socket, head] = answer as [
    { statusCode?: number; headers: Record<string, unknown> },
    Socket,
    Buffer,
  ];
  if (response.statusCode === 200) {
    // The server's first bytes (its SSH banner) may have come in with the gateway's answer.
    if (head.length > 0) socket.unshift(head);
    return socket;
  }
  socket.destroy();
  const status = response.statusCode ?? 0;
  const squidError =
    typeof response.headers['x-squid-error'] === 'string' ? response.headers['x-squid-error'] : null;
  const refusal = gatewayRefusal(new URL(`sftp://${endpointOf(target)}`), status, squidError);
  if (refusal) throw refusal;
  // The gateway could not reach the server (502, 503, 504): it may be back by the next attempt.
  if (status >= 500)
    throw ApplicationFailure.retryable(
      `sftp server ${endpointOf(target)} is unreachable through the gateway (tunnel answered ${status})`,
      RetryableType.UpstreamUnavailable,
    );
  throw ApplicationFailure.nonRetryable(
    `egress to ${endpointOf(target)} refused by the gateway (tunnel answered ${status})`,
    FailureType.EgressRefused,
  );
}

/** What an SSH client error means for the run: named, without anything the server sent. */
function sshFailure(
  target: URL,
  error: Error & { level?: string },
  presented: string | undefined,
  pinned: string,
) {
  const where = `sftp server ${endpointOf(target)}`;
  // The presented key's fingerprint is public; the pinned one is part of the sealed credentials.
  if (presented !== undefined && presented !== pinned) {
    return ApplicationFailure.nonRetryable(
      `${where} showed host key ${presented}, which is not the connection's pinned host key: refused`,
      FailureType.SftpHostKeyRejected,
    );
  }
  if (error.level === 'client-authentication') {
    return ApplicationFailure.nonRetryable(`${where}: sign-in refused`, FailureType.SftpAuthRejected);
  }
  if (error.level === 'client-timeout' || error.name === 'TimeoutError') {
    return ApplicationFailure.retryable(
      `${where}: no SFTP session within ${OPEN_TIMEOUT_MS} ms`,
      RetryableType.UpstreamUnavailable,
    );
  }
  return ApplicationFailure.retryable(
    `${where}: SSH connection failed (${error.level ?? 'connection'})`,
    RetryableType.UpstreamUnavailable,
  );
}

/** A private key ssh2 cannot read (its format, or its passphrase), as a failure that names the step. */
function unreadableKey(target: URL): ApplicationFailure {
  return ApplicationFailure.nonRetryable(
    `sftp server ${endpointOf(target)}: the connection's private key cannot be read (format or passphrase)`,
    FailureType.SftpAuthRejected,
  );
}

/**
 * Opens an SFTP session on the server of `baseUrl` (sftp://host[:port]) through the gateway,
 * signed in with the connection's credentials. The server's host key must be the pinned one: any
 * other is refused before credentials are sent. Opening gives up after OPEN_TIMEOUT_MS, or when
 * `signal` fires.
 */
export async function openSftp(
  gateway: GatewayRoute,
  baseUrl: string,
  credentials: SftpCredentials,
  signal?: AbortSignal,
): Promise<SftpSession> {
  const target = new URL(baseUrl);
  if (credentials.privateKey !== undefined) {
    const parsed = ssh2.utils.parseKey(credentials.privateKey, credentials.passphrase);
    if (parsed instanceof Error) throw unreadableKey(target);
  }
  const deadline = AbortSignal.timeout(OPEN_TIMEOUT_MS);
  const opening = signal ? AbortSignal.any([signal, deadline]) : deadline;
  let sock: Socket;
  try {
    sock = await tunnel(gateway, target, opening);
  } catch (error) {
    signal?.throwIfAborted();
    if ((error as Error).name === 'AbortError' && deadline.aborted)
      throw sshFailure(
        target,
        Object.assign(new Error('timeout'), { level: 'client-timeout' }),
        undefined,
        '',
      );
    throw error;
  }
  const client = new ssh2.Client();
  let presented: string | undefined;
  const ready = new Promise<void>((resolve, reject) => {
    client.once('ready', resolve);
    client.once('error', reject);
    client.once('close', () => reject(Object.assign(new Error('closed'), { level: 'connection' })));
  });
  // Until the session is open, a deadline or the caller's signal ends the connection.
  const stopOpening = () => client.end();
  opening.addEventListener('abort', stopOpening, { once: true });
  try {
    client.connect({
      sock,
      username: credentials.username,
      password: credentials.password,
      privateKey: credentials.privateKey,
      passphrase: credentials.passphrase,
      readyTimeout: OPEN_TIMEOUT_MS,
      hostVerifier: (key: Buffer) => {
        presented = sshFingerprint(key);
        return presented === credentials.hostKeySha256;
      },
    });
    await ready;
    const sftp = await new Promise<SFTPWrapper>((resolve, reject) => {
      client.sftp((error, session) => (error ? reject(error) : resolve(session)));
      opening.addEventListener(
        'abort',
        () => reject(Object.assign(new Error('timeout'), { level: 'client-timeout' })),
        {
          once: true,
        },
      );
    });
    opening.removeEventListener('abort', stopOpening);
    // Errors after the session is open reach whoever uses it; unheard, they must not crash the worker.
    client.on('error', () => undefined);
    const abort = () => client.end();
    signal?.addEventListener('abort', abort, { once: true });
    return {
      sftp,
      close: () => {
        signal?.removeEventListener('abort', abort);
        client.end();
      },
    };
  } catch (error) {
    opening.removeEventListener('abort', stopOpening);
    client.end();
    sock.destroy();
    signal?.throwIfAborted();
    if (deadline.aborted)
      throw sshFailure(
        target,
        Object.assign(new Error('timeout'), { level: 'client-timeout' }),
        presented,
        credentials.hostKeySha256,
      );
    throw sshFailure(target, error as Error & { level?: string }, presented, credentials.hostKeySha256);
  }
}

/** An SFTP call with a callback, as a promise. */
export const sftpCall = <T>(run: (done: (error: Error | null | undefined, value?: T) => void) => void) =>
  new Promise<T>((resolve, reject) => run((error, value) => (error ? reject(error) : resolve(value as T))));

/** A path's attributes, or undefined when there is nothing there (SFTP status 2, no such file). */
export const statOf = (sftp: SFTPWrapper, path: string) =>
  sftpCall<Stats>((done) => sftp.stat(path, done)).catch((error: { code?: number }) => {
    if (error.code === 2) return undefined;
    throw error;
  });

/**
 * An SFTP status a retry cannot change (2, no such file; 3, permission denied) as a named
 * failure that says the step and the side, never the path; anything else unchanged.
 */
export function sftpStatusFailure(side: 'source' | 'destination', step: string, error: unknown): unknown {
  const code = (error as { code?: unknown } | null)?.code;
  if (code === 2)
    return ApplicationFailure.nonRetryable(
      `${step} on the ${side} server: no such file or folder`,
      FailureType.SftpPathMissing,
    );
  if (code === 3)
    return ApplicationFailure.nonRetryable(
      `${step} on the ${side} server: permission denied`,
      FailureType.SftpPermissionDenied,
    );
  return error;
}
