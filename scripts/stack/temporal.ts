import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  StackError,
  TEMPORAL_DEV_BINARY,
  temporalJwksUrl,
  displayPath,
  type Report,
  type StackPaths,
  type StackPorts,
} from './config.js';
import { temporalConnectOptions, temporalConnectionAt } from '../../common/temporal-connection.js';
import type { TemporalConnectionSettings } from '../../common/temporal-connection.js';
import { httpOk, temporalGrpcHealthy } from './health.js';
import { ensureManaged, stopByPidFile, type ManagedService, type Outcome } from './managed.js';
import { commandLineMatches, livePid, spawnDetached } from './process.js';
import { temporalBinary } from './temporal-build.js';

export interface TemporalEndpoints {
  address: string;
  uiUrl: string;
  /** True when TEMPORAL_ADDRESS names a server this script does not manage. */
  external: boolean;
}

export function temporalEndpoints(ports: StackPorts): TemporalEndpoints {
  const external = process.env.TEMPORAL_ADDRESS;
  if (external !== undefined && external !== '') {
    return { address: external, uiUrl: process.env.TEMPORAL_UI_URL ?? '', external: true };
  }
  return {
    address: `127.0.0.1:${ports.temporal}`,
    uiUrl: `http://127.0.0.1:${ports.temporalUi}`,
    external: false,
  };
}

/**
 * The standard Temporal variables (TLS, API key, profile) and TAVIO_TEMPORAL_AUTH that the stack's
 * processes get: the shell's, when TEMPORAL_ADDRESS names an outside server; none for the stack's own
 * server, which is plain text with Tavio's tokens whatever the shell holds.
 */
export function stackTemporalEnv(
  env: Record<string, string | undefined> = process.env,
): Record<string, string> {
  if (!env.TEMPORAL_ADDRESS) return {};
  return Object.fromEntries(
    Object.entries(env).filter(
      (entry): entry is [string, string] =>
        entry[1] !== undefined &&
        ((entry[0].startsWith('TEMPORAL_') && entry[0] !== 'TEMPORAL_UI_URL') ||
          entry[0] === 'TAVIO_TEMPORAL_AUTH'),
    ),
  );
}

/** How scripts and tests reach the stack's Temporal at `address`. */
export function stackTemporalConnection(address: string): TemporalConnectionSettings {
  return temporalConnectionAt(address, stackTemporalEnv());
}

/** The server answers gRPC health checks (they need no token). */
export function temporalHealthy(endpoints: TemporalEndpoints): Promise<boolean> {
  return temporalGrpcHealthy(
    endpoints.address,
    temporalConnectOptions(stackTemporalConnection(endpoints.address)),
  );
}

export async function temporalUiHealthy(endpoints: TemporalEndpoints): Promise<boolean> {
  return endpoints.uiUrl !== '' && (await httpOk(endpoints.uiUrl));
}

/** Starts the server, then the Web UI (its own process), reusing whichever is already healthy. */
export async function ensureTemporal(
  paths: StackPaths,
  ports: StackPorts,
  report: Report,
): Promise<[string, Outcome][]> {
  const endpoints = temporalEndpoints(ports);
  if (endpoints.external) return [['temporal', await checkExternal(endpoints, report)]];
  assertNotStockCli(paths);
  let build: Promise<string> | undefined;
  const binary = (): Promise<string> => (build ??= temporalBinary(paths, report));
  const server = await ensureManaged(serverService(paths, ports, endpoints, binary, report), paths, report);
  const ui = await ensureManaged(uiService(paths, ports, endpoints, binary, report), paths, report);
  return [
    ['temporal', server],
    ['temporal-ui', ui],
  ];
}

async function checkExternal(endpoints: TemporalEndpoints, report: Report): Promise<Outcome> {
  report(
    `temporal: TEMPORAL_ADDRESS=${endpoints.address} is set, checking that server instead of starting one...`,
  );
  if (!(await temporalHealthy(endpoints))) {
    throw new StackError(
      `temporal: no healthy Temporal server answers at TEMPORAL_ADDRESS=${endpoints.address}; start it, or unset TEMPORAL_ADDRESS to let the stack run its own`,
    );
  }
  report(`temporal: reused, external server at ${endpoints.address} is healthy`);
  if (endpoints.uiUrl === '')
    report('temporal: no TEMPORAL_UI_URL for the external server: the Web UI gateway is not started');
  return 'reused';
}

/** A dev server started by an earlier version of this script is healthy but enforces no authorization: never reuse it. */
function assertNotStockCli(paths: StackPaths): void {
  const pid = livePid(paths, 'temporal');
  if (pid !== undefined && !commandLineMatches(pid, TEMPORAL_DEV_BINARY)) {
    throw new StackError(
      `temporal: the running Temporal server (pid ${pid}) is the stock Temporal CLI from an earlier stack, which does not check tokens; stop it with \`npm run stack -- down\` and start the stack again`,
    );
  }
}

function serverService(
  paths: StackPaths,
  ports: StackPorts,
  endpoints: TemporalEndpoints,
  binary: () => Promise<string>,
  report: Report,
): ManagedService {
  const logFile = join(paths.logsDir, 'temporal.log');
  const jwksUrl = temporalJwksUrl(ports);
  return {
    name: 'temporal',
    url: endpoints.address,
    ports: [
      { port: ports.temporal, envVar: 'TAVIO_TEMPORAL_PORT' },
      { port: ports.temporalHttp, envVar: 'TAVIO_TEMPORAL_HTTP_PORT' },
    ],
    deadlineMs: 60_000,
    logFiles: [logFile],
    healthy: () => temporalHealthy(endpoints),
    start: async () => {
      const command = await binary();
      const dataDir = join(paths.stackDir, 'temporal');
      mkdirSync(dataDir, { recursive: true, mode: 0o700 });
      report(
        `temporal: starting ${displayPath(command)} server on 127.0.0.1:${ports.temporal} (HTTP ${ports.temporalHttp}), token keys from ${jwksUrl}, log ${displayPath(logFile)}...`,
      );
      const args = [
        ...['server', '--ip', '127.0.0.1', '--port', String(ports.temporal)],
        ...['--http-port', String(ports.temporalHttp), '--db-filename', join(dataDir, 'temporal.db')],
        ...['--log-level', 'warn', '--jwks-url', jwksUrl],
      ];
      return spawnDetached(paths, { name: 'temporal', command, args, logFile });
    },
  };
}

function uiService(
  paths: StackPaths,
  ports: StackPorts,
  endpoints: TemporalEndpoints,
  binary: () => Promise<string>,
  report: Report,
): ManagedService {
  const logFile = join(paths.logsDir, 'temporal-ui.log');
  // The browser calls the codec endpoint of the Web UI gateway, where its session cookie goes.
  const codecUrl = process.env.TAVIO_TEMPORAL_CODEC_URL || `http://127.0.0.1:${ports.webUi}/codec`;
  return {
    name: 'temporal-ui',
    url: endpoints.uiUrl,
    ports: [{ port: ports.temporalUi, envVar: 'TAVIO_TEMPORAL_UI_PORT' }],
    deadlineMs: 30_000,
    logFiles: [logFile],
    healthy: () => temporalUiHealthy(endpoints),
    start: async () => {
      const command = await binary();
      report(`temporal-ui: starting the Web UI on ${endpoints.uiUrl}, log ${displayPath(logFile)}...`);
      const args = [
        ...['ui', '--ip', '127.0.0.1', '--port', String(ports.temporalUi)],
        ...['--temporal-address', endpoints.address],
        ...['--codec-endpoint', codecUrl],
      ];
      return spawnDetached(paths, { name: 'temporal-ui', command, args, logFile });
    },
  };
}

export async function stopTemporal(paths: StackPaths, report: Report): Promise<void> {
  await stopByPidFile(paths, 'temporal-ui', TEMPORAL_DEV_BINARY, report);
  await stopByPidFile(paths, 'temporal', 'temporal', report);
}
