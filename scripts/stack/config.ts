import { homedir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The project's own Temporal service (`scripts/temporal-dev`, built with Go): the Temporal dev
 * server (server v1.29.1, from CLI v1.5.1) with per-namespace JWT authorization, and the Web UI
 * as a separate process. A stock Temporal CLI (`TEMPORAL_CLI`, `temporal` on PATH) is no longer
 * used: it would not enforce authorization. A server this script does not manage can still be
 * named with TEMPORAL_ADDRESS.
 */
export const TEMPORAL_DEV_SOURCE = 'scripts/temporal-dev';
export const TEMPORAL_DEV_BINARY = 'tavio-temporal';
/** Where the control API publishes the keys that sign Temporal tokens; TAVIO_TEMPORAL_JWKS_URL overrides. */
export const temporalJwksUrl = (ports: StackPorts): string =>
  process.env.TAVIO_TEMPORAL_JWKS_URL || `http://127.0.0.1:${ports.controlApi}/.well-known/jwks.json`;
export const MOTO_VERSION = '5.2.5';
export const PG_BIN_DIR = '/usr/lib/postgresql/15/bin';
/** The OS user that initdb and postgres run as when the stack runs as root (both refuse root). */
export const PG_OS_USER = 'postgres';
/** The cluster's bootstrap superuser: only the stack script signs in as it (databases, roles). */
export const PG_ADMIN_ROLE = 'tavio_admin';
/** Owns the databases and everything migrations create; migrations run as it. */
export const PG_OWNER_ROLE = 'tavio_owner';
/** What the control API runs as: no superuser, owns nothing; its grants come from migration 0007. */
export const PG_APP_ROLE = 'tavio_app';
export const PG_DATABASE = 'tavio';
export const PG_TEMPLATE_DATABASE = 'tavio_template';
export const GATEWAY_CODES = ['us1', 'ca1', 'eu1'] as const;
export type GatewayCode = (typeof GATEWAY_CODES)[number];

/** A failure the person running the stack can act on; its message says what to do. */
export class StackError extends Error {
  override readonly name = 'StackError';
}

export type Report = (line: string) => void;

export interface StackPaths {
  repoRoot: string;
  stackDir: string;
  logsDir: string;
  pidsDir: string;
  cacheDir: string;
}

export interface StackPorts {
  temporal: number;
  /** The frontend's HTTP API; it runs the same authorization as gRPC. */
  temporalHttp: number;
  /** The Temporal Web UI server; people reach it only through the control API's sign-in on `webUi`. */
  temporalUi: number;
  /** Where the control API serves the Web UI gateway (not a stack service: the platform listens there). */
  webUi: number;
  /** Where the platform's control API listens; Temporal reads its token keys (JWKS) there. */
  controlApi: number;
  postgres: number;
  moto: number;
  /** The customer-side SFTP server, on the fixtures' loopback address. */
  sftp: number;
  gateways: Record<GatewayCode, number>;
}

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

export function stackPaths(): StackPaths {
  const stackDir = resolve(process.env.TAVIO_STACK_DIR ?? join(repoRoot, '.stack'));
  const cacheHome = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return {
    repoRoot,
    stackDir,
    logsDir: join(stackDir, 'logs'),
    pidsDir: join(stackDir, 'pids'),
    cacheDir: join(cacheHome, 'tavio'),
  };
}

export function portFromEnv(envVar: string, fallback: number): number {
  const raw = process.env[envVar];
  if (raw === undefined || raw === '') return fallback;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new StackError(`${envVar}=${raw} is not a TCP port number (1-65535)`);
  }
  return port;
}

export const GATEWAY_PORT_ENV: Record<GatewayCode, string> = {
  us1: 'TAVIO_GATEWAY_US1_PORT',
  ca1: 'TAVIO_GATEWAY_CA1_PORT',
  eu1: 'TAVIO_GATEWAY_EU1_PORT',
};

export function stackPorts(): StackPorts {
  return {
    temporal: portFromEnv('TAVIO_TEMPORAL_PORT', 7233),
    temporalHttp: portFromEnv('TAVIO_TEMPORAL_HTTP_PORT', 7243),
    temporalUi: portFromEnv('TAVIO_TEMPORAL_UI_PORT', 8234),
    webUi: portFromEnv('TAVIO_WEB_UI_PORT', 8233),
    controlApi: portFromEnv('TAVIO_API_PORT', 8080),
    postgres: portFromEnv('TAVIO_PG_PORT', 55432),
    moto: portFromEnv('TAVIO_MOTO_PORT', 5055),
    sftp: portFromEnv('TAVIO_SFTP_PORT', 2222),
    gateways: {
      us1: portFromEnv(GATEWAY_PORT_ENV.us1, 8881),
      ca1: portFromEnv(GATEWAY_PORT_ENV.ca1, 8882),
      eu1: portFromEnv(GATEWAY_PORT_ENV.eu1, 8883),
    },
  };
}

/** A path as short as possible for progress lines: relative to the working directory when inside it. */
export function displayPath(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel.startsWith('..') || rel === '' ? path : rel;
}
