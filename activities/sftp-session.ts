import { once } from 'node:events';
import { request } from 'node:http';
import type { Socket } from 'node:net';
import { ApplicationFailure } from '@temporalio/common';
import { Client } from 'ssh2';
import type { SFTPWrapper } from 'ssh2';
import { FailureType, RetryableType } from '../common/failures.js';
import { RUN_HEADER, runTag } from '../common/gateway-identity.js';
import type { SftpCredentials } from '../common/integrations.js';
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

/** How long the SSH handshake and sign-in may take. */
const READY_TIMEOUT_MS = 20_000;

/**
 * A TCP tunnel to `host:port` through the gateway (HTTP CONNECT): the gateway decides, as for any
 * request, whether this environment may reach that endpoint.
 */
async function tunnel(gateway: GatewayRoute, target: URL, signal?: AbortSignal): Promise<Socket> {
  const proxy = new URL(gateway.url);
  const connect = request({
    host: proxy.hostname,
    port: proxy.port,
    method: 'CONNECT',
    path: target.host,
    headers: {
      host: target.host,
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
  const [response, socket] = answer as [{ statusCode?: number; headers: Record<string, unknown> }, Socket];
  if (response.statusCode === 200) return socket;
  socket.destroy();
  const status = response.statusCode ?? 0;
  const squidError =
    typeof response.headers['x-squid-error'] === 'string' ? response.headers['x-squid-error'] : null;
  throw (
    gatewayRefusal(target, status, squidError) ??
    ApplicationFailure.nonRetryable(
      `egress to ${target.host} refused by the gateway (tunnel answered ${status})`,
      FailureType.EgressRefused,
    )
  );
}

/** What an SSH client error means for the run: named, without anything the server sent. */
function sshFailure(
  target: URL,
  error: Error & { level?: string },
  presented: string | undefined,
  pinned: string,
) {
  const where = `sftp server ${target.host}`;
  if (presented !== undefined && presented !== pinned) {
    return ApplicationFailure.nonRetryable(
      `${where} showed host key ${presented}, not the pinned ${pinned}: refused`,
      FailureType.SftpHostKeyRejected,
    );
  }
  if (error.level === 'client-authentication') {
    return ApplicationFailure.nonRetryable(`${where}: sign-in refused`, FailureType.SftpAuthRejected);
  }
  if (error.level === 'client-timeout') {
    return ApplicationFailure.retryable(
      `${where}: no SSH handshake within ${READY_TIMEOUT_MS} ms`,
      RetryableType.UpstreamUnavailable,
    );
  }
  return ApplicationFailure.retryable(
    `${where}: SSH connection failed (${error.level ?? 'connection'})`,
    RetryableType.UpstreamUnavailable,
  );
}

/**
 * Opens an SFTP session on the server of `baseUrl` (sftp://host:port) through the gateway, signed
 * in with the connection's credentials. The server's host key must be the pinned one: any other
 * is refused before credentials are sent.
 */
export async function openSftp(
  gateway: GatewayRoute,
  baseUrl: string,
  credentials: SftpCredentials,
  signal?: AbortSignal,
): Promise<SftpSession> {
  const target = new URL(baseUrl);
  const sock = await tunnel(gateway, target, signal);
  const client = new Client();
  let presented: string | undefined;
  const ready = new Promise<void>((resolve, reject) => {
    client.once('ready', resolve);
    client.once('error', reject);
    client.once('close', () => reject(Object.assign(new Error('closed'), { level: 'connection' })));
  });
  const abort = () => client.end();
  signal?.addEventListener('abort', abort, { once: true });
  client.connect({
    sock,
    username: credentials.username,
    password: credentials.password,
    privateKey: credentials.privateKey,
    passphrase: credentials.passphrase,
    readyTimeout: READY_TIMEOUT_MS,
    hostVerifier: (key: Buffer) => {
      presented = sshFingerprint(key);
      return presented === credentials.hostKeySha256;
    },
  });
  try {
    await ready;
    const sftp = await new Promise<SFTPWrapper>((resolve, reject) =>
      client.sftp((error, session) => (error ? reject(error) : resolve(session))),
    );
    // Errors after the session is open reach whoever uses it; unheard, they must not crash the worker.
    client.on('error', () => undefined);
    return {
      sftp,
      close: () => {
        signal?.removeEventListener('abort', abort);
        client.end();
      },
    };
  } catch (error) {
    client.end();
    signal?.removeEventListener('abort', abort);
    signal?.throwIfAborted();
    throw sshFailure(target, error as Error & { level?: string }, presented, credentials.hostKeySha256);
  }
}
