import { spawn } from 'node:child_process';
import { once } from 'node:events';
import {
  accessSync,
  appendFileSync,
  closeSync,
  constants,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { StackError, type StackPaths } from './config.js';

export { sleep };

export interface CommandResult {
  code: number;
  output: string;
}

export interface CommandOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Append stdout and stderr to this file instead of collecting them. */
  logFile?: string;
}

/** Runs a command to completion; never throws for a non-zero exit, only for a missing executable. */
export async function runCommand(
  command: string,
  args: readonly string[],
  options: CommandOptions = {},
): Promise<CommandResult> {
  const logFd = options.logFile === undefined ? undefined : openLog(options.logFile);
  const child = spawn(command, args, {
    env: options.env ?? process.env,
    cwd: options.cwd,
    stdio: ['ignore', logFd ?? 'pipe', logFd ?? 'pipe'],
  });
  if (logFd !== undefined) closeSync(logFd);
  const chunks: Buffer[] = [];
  child.stdout?.on('data', (chunk: Buffer) => chunks.push(chunk));
  child.stderr?.on('data', (chunk: Buffer) => chunks.push(chunk));
  const [code] = (await once(child, 'close')) as [number | null];
  return { code: code ?? 1, output: Buffer.concat(chunks).toString('utf8').trim() };
}

export async function runOrFail(
  what: string,
  command: string,
  args: readonly string[],
  options: CommandOptions = {},
): Promise<string> {
  const result = await runCommand(command, args, options);
  if (result.code !== 0) {
    const details = options.logFile === undefined ? result.output : tailLog(options.logFile);
    throw new StackError(`${what} failed (exit ${result.code}): ${command} ${args.join(' ')}\n${details}`);
  }
  return result.output;
}

export function findOnPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const candidate = join(dir, name);
    if (dir !== '' && isExecutable(candidate)) return candidate;
  }
  return undefined;
}

export function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export function isRoot(): boolean {
  return process.getuid?.() === 0;
}

function openLog(file: string): number {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  return openSync(file, 'a', 0o600);
}

export interface DetachedSpec {
  name: string;
  command: string;
  args: readonly string[];
  logFile: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

/**
 * Starts a process that outlives this script, logging to its own file, and records its pid. It runs
 * with umask 077 (through `sh`, which execs it under the same pid): what it writes under .stack is private.
 */
export async function spawnDetached(paths: StackPaths, spec: DetachedSpec): Promise<number> {
  mkdirSync(dirname(spec.logFile), { recursive: true, mode: 0o700 });
  appendFileSync(spec.logFile, `--- ${new Date().toISOString()} ${spec.command} ${spec.args.join(' ')}\n`, {
    mode: 0o600,
  });
  const logFd = openLog(spec.logFile);
  const child = spawn('/bin/sh', ['-c', 'umask 077 && exec "$0" "$@"', spec.command, ...spec.args], {
    env: spec.env ?? process.env,
    cwd: spec.cwd,
    detached: true,
    stdio: ['ignore', logFd, logFd],
  });
  closeSync(logFd);
  try {
    await once(child, 'spawn');
  } catch (error) {
    throw new StackError(`${spec.name}: could not start ${spec.command}: ${(error as Error).message}`);
  }
  child.unref();
  const pid = child.pid;
  if (pid === undefined) throw new StackError(`${spec.name}: ${spec.command} started without a pid`);
  writePid(paths, spec.name, pid);
  return pid;
}

function pidFile(paths: StackPaths, name: string): string {
  return join(paths.pidsDir, `${name}.pid`);
}

export function writePid(paths: StackPaths, name: string, pid: number): void {
  mkdirSync(paths.pidsDir, { recursive: true, mode: 0o700 });
  writeFileSync(pidFile(paths, name), `${pid}\n`, { mode: 0o600 });
}

export function readPid(paths: StackPaths, name: string): number | undefined {
  const file = pidFile(paths, name);
  if (!existsSync(file)) return undefined;
  const pid = Number.parseInt(readFileSync(file, 'utf8'), 10);
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

export function removePid(paths: StackPaths, name: string): void {
  rmSync(pidFile(paths, name), { force: true });
}

/** The pid from the pid file, only while that process is alive. */
export function livePid(paths: StackPaths, name: string): number | undefined {
  const pid = readPid(paths, name);
  return pid !== undefined && isAlive(pid) ? pid : undefined;
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Guards against signalling an unrelated process that reused a stale pid; without /proc it trusts the pid. */
export function commandLineMatches(pid: number, expected: string): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(expected);
  } catch {
    return !existsSync('/proc/self');
  }
}

/** SIGTERM, a grace period (10 s by default), then SIGKILL. Resolves true when the process is gone. */
export async function terminate(pid: number, graceMs = 10_000): Promise<boolean> {
  if (!signal(pid, 'SIGTERM')) return true;
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (!isAlive(pid)) return true;
    await sleep(100);
  }
  signal(pid, 'SIGKILL');
  await sleep(200);
  return !isAlive(pid);
}

/** Signals the whole process group when the pid leads one (detached spawns do), so helpers it started go too. */
function signal(pid: number, name: NodeJS.Signals): boolean {
  for (const target of [-pid, pid]) {
    try {
      process.kill(target, name);
      return true;
    } catch {
      continue;
    }
  }
  return false;
}

export function tailLog(file: string, lines = 20): string {
  if (!existsSync(file)) return `(no log at ${file})`;
  const content = readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  return `--- last ${lines} lines of ${file} ---\n${content}`;
}
