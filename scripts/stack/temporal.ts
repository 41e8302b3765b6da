import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import {
  StackError,
  TEMPORAL_CLI_VERSION,
  displayPath,
  type Report,
  type StackPaths,
  type StackPorts,
} from './config.js';
import { httpOk, temporalGrpcHealthy } from './health.js';
import { ensureManaged, stopByPidFile, type ManagedService, type Outcome } from './managed.js';
import { findOnPath, isAlive, isExecutable, runCommand, sleep, spawnDetached, tailLog } from './process.js';

const BUILD_NOTICE_INTERVAL_MS = 30_000;

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

export async function temporalHealthy(endpoints: TemporalEndpoints): Promise<boolean> {
  if (!endpoints.external && !(await httpOk(endpoints.uiUrl))) return false;
  return temporalGrpcHealthy(endpoints.address);
}

export async function ensureTemporal(paths: StackPaths, ports: StackPorts, report: Report): Promise<Outcome> {
  const endpoints = temporalEndpoints(ports);
  if (endpoints.external) return checkExternal(endpoints, report);
  return ensureManaged(temporalService(paths, ports, endpoints, report), paths, report);
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
  return 'reused';
}

function temporalService(
  paths: StackPaths,
  ports: StackPorts,
  endpoints: TemporalEndpoints,
  report: Report,
): ManagedService {
  const logFile = join(paths.logsDir, 'temporal.log');
  return {
    name: 'temporal',
    url: `${endpoints.address} (UI ${endpoints.uiUrl})`,
    ports: [
      { port: ports.temporal, envVar: 'TAVIO_TEMPORAL_PORT' },
      { port: ports.temporalUi, envVar: 'TAVIO_TEMPORAL_UI_PORT' },
    ],
    deadlineMs: 60_000,
    logFiles: [logFile],
    healthy: () => temporalHealthy(endpoints),
    start: async () => {
      const binary = await temporalBinary(paths, report);
      const dataDir = join(paths.stackDir, 'temporal');
      mkdirSync(dataDir, { recursive: true });
      report(
        `temporal: starting dev server ${displayPath(binary)} on 127.0.0.1:${ports.temporal}, UI ${ports.temporalUi}, log ${displayPath(logFile)}...`,
      );
      const args = [
        ...['server', 'start-dev', '--ip', '127.0.0.1'],
        ...['--port', String(ports.temporal), '--ui-port', String(ports.temporalUi)],
        ...['--db-filename', join(dataDir, 'temporal.db'), '--log-level', 'warn'],
      ];
      return spawnDetached(paths, { name: 'temporal', command: binary, args, logFile });
    },
  };
}

function cachedBinary(paths: StackPaths): string {
  return join(paths.cacheDir, `temporal-${TEMPORAL_CLI_VERSION}`, 'bin', 'temporal');
}

/** TEMPORAL_CLI, else `temporal` on PATH, else the cached build, building it when absent. */
async function temporalBinary(paths: StackPaths, report: Report): Promise<string> {
  const fromEnv = process.env.TEMPORAL_CLI;
  if (fromEnv !== undefined && fromEnv !== '') {
    if (!isExecutable(fromEnv))
      throw new StackError(`temporal: TEMPORAL_CLI=${fromEnv} is not an executable file`);
    return fromEnv;
  }
  const onPath = findOnPath('temporal');
  if (onPath !== undefined) return onPath;
  const cached = cachedBinary(paths);
  if (!isExecutable(cached)) await buildTemporal(paths, cached, report);
  return cached;
}

async function buildTemporal(paths: StackPaths, binary: string, report: Report): Promise<void> {
  const go = findOnPath('go');
  if (go === undefined) {
    throw new StackError(
      `temporal: no Temporal CLI found and Go is not installed to build one. Provide one of: TEMPORAL_CLI=/path/to/temporal (a Temporal CLI binary), ` +
        `TEMPORAL_ADDRESS=host:port (a running Temporal server), or install Go (https://go.dev/dl/) so the CLI v${TEMPORAL_CLI_VERSION} can be built into ${binary}`,
    );
  }
  const binDir = join(binary, '..');
  mkdirSync(binDir, { recursive: true });
  const lock = join(binDir, '..', 'build.lock');
  if (!acquireLock(lock)) {
    await waitForOtherBuild(lock, binary, report);
    return;
  }
  try {
    await runBuild(paths, go, binDir, report);
  } finally {
    rmSync(lock, { force: true });
  }
}

async function runBuild(paths: StackPaths, go: string, binDir: string, report: Report): Promise<void> {
  const logFile = join(paths.logsDir, 'temporal-build.log');
  report(
    `temporal: building CLI v${TEMPORAL_CLI_VERSION} from the Go module proxy into ${binDir} (first time takes minutes, log ${displayPath(logFile)})...`,
  );
  const started = Date.now();
  const ticker = setInterval(
    () => report(`temporal: still building (${Math.round((Date.now() - started) / 1000)} s)...`),
    BUILD_NOTICE_INTERVAL_MS,
  );
  try {
    const args = ['install', `github.com/temporalio/cli/cmd/temporal@v${TEMPORAL_CLI_VERSION}`];
    const result = await runCommand(go, args, { env: { ...process.env, GOBIN: binDir }, logFile });
    if (result.code !== 0) {
      throw new StackError(
        `temporal: building the CLI failed (exit ${result.code}). Fix the error below, or provide TEMPORAL_CLI=/path/to/temporal or TEMPORAL_ADDRESS=host:port.\n${tailLog(logFile)}`,
      );
    }
  } finally {
    clearInterval(ticker);
  }
  report(`temporal: CLI built in ${Math.round((Date.now() - started) / 1000)} s`);
}

function acquireLock(lock: string): boolean {
  try {
    const fd = openSync(lock, 'wx');
    writeSync(fd, `${process.pid}\n`);
    closeSync(fd);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    if (lockHeld(lock)) return false;
    rmSync(lock, { force: true });
    return acquireLock(lock);
  }
}

function lockHeld(lock: string): boolean {
  try {
    const holder = Number.parseInt(readFileSync(lock, 'utf8'), 10);
    return Number.isInteger(holder) && isAlive(holder);
  } catch {
    return false;
  }
}

async function waitForOtherBuild(lock: string, binary: string, report: Report): Promise<void> {
  report(`temporal: another process is already building the CLI (lock ${lock}), waiting for it...`);
  let nextNotice = Date.now() + BUILD_NOTICE_INTERVAL_MS;
  while (lockHeld(lock)) {
    if (Date.now() >= nextNotice) {
      report('temporal: still waiting for the other CLI build...');
      nextNotice += BUILD_NOTICE_INTERVAL_MS;
    }
    await sleep(1_000);
  }
  if (!isExecutable(binary))
    throw new StackError(
      `temporal: the other CLI build finished without producing ${binary}; run the command again to build it here`,
    );
}

export function stopTemporal(paths: StackPaths, report: Report): Promise<void> {
  return stopByPidFile(paths, 'temporal', 'temporal', report);
}
