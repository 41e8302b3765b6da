import { createHash } from 'node:crypto';
import {
  closeSync,
  mkdirSync,
  openSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import {
  StackError,
  TEMPORAL_DEV_BINARY,
  TEMPORAL_DEV_SOURCE,
  temporalJwksUrl,
  displayPath,
  type Report,
  type StackPaths,
  type StackPorts,
} from './config.js';
import { httpOk, temporalGrpcHealthy } from './health.js';
import { ensureManaged, stopByPidFile, type ManagedService, type Outcome } from './managed.js';
import {
  commandLineMatches,
  findOnPath,
  isAlive,
  isExecutable,
  livePid,
  runCommand,
  sleep,
  spawnDetached,
  tailLog,
} from './process.js';

const BUILD_NOTICE_INTERVAL_MS = 30_000;
const BUILD_DIR_PREFIX = `${TEMPORAL_DEV_BINARY}-`;

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

/** The server answers gRPC health checks (they need no token). */
export function temporalHealthy(endpoints: TemporalEndpoints): Promise<boolean> {
  return temporalGrpcHealthy(endpoints.address);
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

/** The build of the current sources, building it when absent. */
async function temporalBinary(paths: StackPaths, report: Report): Promise<string> {
  const sourceDir = join(paths.repoRoot, TEMPORAL_DEV_SOURCE);
  const buildDir = join(paths.cacheDir, `${BUILD_DIR_PREFIX}${sourceHash(sourceDir)}`);
  const binary = join(buildDir, TEMPORAL_DEV_BINARY);
  if (!isExecutable(binary)) await buildTemporal(paths, sourceDir, binary, report);
  return binary;
}

/**
 * Names a build after what it is built from, so a fresh clone (CI) reuses the cached binary and
 * any change to the Go module rebuilds it. Module downloads are pinned by go.sum.
 */
function sourceHash(sourceDir: string): string {
  const hash = createHash('sha256');
  const files = readdirSync(sourceDir)
    .filter((name) => name === 'go.mod' || name === 'go.sum' || name.endsWith('.go'))
    .sort();
  for (const name of files) {
    hash.update(`${name}\0`);
    hash.update(readFileSync(join(sourceDir, name)));
    hash.update('\0');
  }
  return hash.digest('hex').slice(0, 12);
}

async function buildTemporal(
  paths: StackPaths,
  sourceDir: string,
  binary: string,
  report: Report,
): Promise<void> {
  const go = findOnPath('go');
  if (go === undefined) {
    throw new StackError(
      `temporal: Go is not installed, and it is needed to build Tavio's Temporal service from ${TEMPORAL_DEV_SOURCE} into ${binary}. ` +
        `Install Go 1.25 or later (https://go.dev/dl/), or point TEMPORAL_ADDRESS=host:port at a running Temporal server`,
    );
  }
  const buildDir = join(binary, '..');
  mkdirSync(buildDir, { recursive: true });
  const lock = join(buildDir, 'build.lock');
  if (!acquireLock(lock)) {
    await waitForOtherBuild(lock, binary, report);
    return;
  }
  try {
    // Another run may have finished the same build between our check and the lock.
    if (!isExecutable(binary)) await runBuild(paths, go, sourceDir, binary, report);
  } finally {
    rmSync(lock, { force: true });
  }
  pruneOtherBuilds(paths, buildDir);
}

async function runBuild(
  paths: StackPaths,
  go: string,
  sourceDir: string,
  binary: string,
  report: Report,
): Promise<void> {
  const logFile = join(paths.logsDir, 'temporal-build.log');
  report(
    `temporal: building ${TEMPORAL_DEV_SOURCE} into ${displayPath(binary)} (first time takes minutes, log ${displayPath(logFile)})...`,
  );
  const started = Date.now();
  const ticker = setInterval(
    () => report(`temporal: still building (${Math.round((Date.now() - started) / 1000)} s)...`),
    BUILD_NOTICE_INTERVAL_MS,
  );
  // Built under a temporary name and renamed, so an interrupted build never passes for a finished one.
  const partial = `${binary}.partial-${process.pid}`;
  try {
    // No -trimpath: it would change every package's build-cache key, and the cached binary is
    // already shared by source hash. No VCS stamp: it needs a working git and changes nothing.
    const args = ['build', '-buildvcs=false', '-o', partial, '.'];
    const env = { ...process.env, GOWORK: 'off' };
    const result = await runCommand(go, args, { cwd: sourceDir, env, logFile });
    if (result.code !== 0) {
      throw new StackError(
        `temporal: building ${TEMPORAL_DEV_SOURCE} failed (exit ${result.code}). Fix the error below, or provide TEMPORAL_ADDRESS=host:port.\n${tailLog(logFile)}`,
      );
    }
    renameSync(partial, binary);
  } finally {
    clearInterval(ticker);
    rmSync(partial, { force: true });
  }
  report(`temporal: built in ${Math.round((Date.now() - started) / 1000)} s`);
}

/** Each build is about 240 MB: keep only the current one (a running server keeps its deleted file open). */
function pruneOtherBuilds(paths: StackPaths, current: string): void {
  for (const name of readdirSync(paths.cacheDir)) {
    const dir = join(paths.cacheDir, name);
    if (name.startsWith(BUILD_DIR_PREFIX) && dir !== current && !lockHeld(join(dir, 'build.lock'))) {
      rmSync(dir, { recursive: true, force: true });
    }
  }
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
  report(
    `temporal: another process is already building ${TEMPORAL_DEV_SOURCE} (lock ${lock}), waiting for it...`,
  );
  let nextNotice = Date.now() + BUILD_NOTICE_INTERVAL_MS;
  while (lockHeld(lock)) {
    if (Date.now() >= nextNotice) {
      report('temporal: still waiting for the other build...');
      nextNotice += BUILD_NOTICE_INTERVAL_MS;
    }
    await sleep(1_000);
  }
  if (!isExecutable(binary))
    throw new StackError(
      `temporal: the other build finished without producing ${binary}; run the command again to build it here`,
    );
}

/** Stops the UI, then the server; `temporal` also matches a stock CLI server left by an earlier stack. */
export async function stopTemporal(paths: StackPaths, report: Report): Promise<void> {
  await stopByPidFile(paths, 'temporal-ui', TEMPORAL_DEV_BINARY, report);
  await stopByPidFile(paths, 'temporal', 'temporal', report);
}
