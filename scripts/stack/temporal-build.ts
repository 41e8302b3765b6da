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
  displayPath,
  type Report,
  type StackPaths,
} from './config.js';
import { findOnPath, isAlive, isExecutable, runCommand, sleep, tailLog } from './process.js';

/** Builds the project's Temporal service (`scripts/temporal-dev`) into the tool cache, once per source hash. */

const BUILD_NOTICE_INTERVAL_MS = 30_000;
const BUILD_DIR_PREFIX = `${TEMPORAL_DEV_BINARY}-`;

/** The build of the current sources, building it when absent. */
export async function temporalBinary(paths: StackPaths, report: Report): Promise<string> {
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
