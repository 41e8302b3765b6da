import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { aptInstall } from './apt.js';
import {
  PG_BIN_DIR,
  PG_DATABASE,
  PG_TEMPLATE_DATABASE,
  PG_USER,
  StackError,
  displayPath,
  type Report,
  type StackPaths,
  type StackPorts,
} from './config.js';
import { ensureManaged, type Outcome } from './managed.js';
import {
  isExecutable,
  isRoot,
  livePid,
  readPid,
  removePid,
  runCommand,
  runOrFail,
  tailLog,
  terminate,
  writePid,
} from './process.js';

const OS_USER = 'postgres';
const MAX_SOCKET_PATH = 100;

export function databaseUrl(ports: StackPorts, database = PG_DATABASE): string {
  return `postgres://${PG_USER}@127.0.0.1:${ports.postgres}/${database}`;
}

const pgBin = (name: string): string => join(PG_BIN_DIR, name);
const dataDir = (paths: StackPaths): string => join(paths.stackDir, 'postgres');
const logFile = (paths: StackPaths): string => join(paths.logsDir, 'postgres.log');

/** initdb and postgres refuse to run as root, so as root they run as the postgres OS user. */
function asServerUser(bin: string, args: readonly string[]): [string, string[]] {
  return isRoot() ? ['runuser', ['-u', OS_USER, '--', pgBin(bin), ...args]] : [pgBin(bin), [...args]];
}

export async function pgReady(port: number): Promise<boolean> {
  if (!isExecutable(pgBin('pg_isready'))) return false;
  const result = await runCommand(pgBin('pg_isready'), [
    '-q',
    '-h',
    '127.0.0.1',
    '-p',
    String(port),
    '-U',
    PG_USER,
    '-d',
    'postgres',
    '-t',
    '2',
  ]);
  return result.code === 0;
}

export async function ensurePostgres(paths: StackPaths, ports: StackPorts, report: Report): Promise<Outcome> {
  const outcome = await ensureManaged(
    {
      name: 'postgres',
      url: databaseUrl(ports),
      ports: [{ port: ports.postgres, envVar: 'TAVIO_PG_PORT' }],
      deadlineMs: 30_000,
      logFiles: [logFile(paths)],
      healthy: () => pgReady(ports.postgres),
      start: () => startPostgres(paths, ports, report),
    },
    paths,
    report,
  );
  await ensureDatabases(ports, report);
  return outcome;
}

async function startPostgres(paths: StackPaths, ports: StackPorts, report: Report): Promise<number> {
  if (!isExecutable(pgBin('pg_ctl'))) {
    await aptInstall('postgresql', `PostgreSQL 15 server binaries (${PG_BIN_DIR})`, report);
  }
  await initCluster(paths, report);
  const socketDir = await serverOwnedDir(socketDirFor(paths, ports));
  const log = logFile(paths);
  mkdirSync(paths.logsDir, { recursive: true });
  appendFileSync(log, `--- ${new Date().toISOString()} pg_ctl start\n`);
  await chownToServerUser(log);
  report(
    `postgres: starting on 127.0.0.1:${ports.postgres} with pg_ctl (data ${displayPath(dataDir(paths))}, log ${displayPath(log)})...`,
  );
  const options = `-p ${ports.postgres} -k '${socketDir}' -c listen_addresses=127.0.0.1`;
  const [command, args] = asServerUser('pg_ctl', [
    '-D',
    dataDir(paths),
    '-l',
    log,
    '-o',
    options,
    '-w',
    '-t',
    '30',
    'start',
  ]);
  const result = await runCommand(command, args);
  if (result.code !== 0)
    throw new StackError(
      `postgres: pg_ctl start failed (exit ${result.code}): ${result.output}\n${tailLog(log)}`,
    );
  const pid = Number.parseInt(readFileSync(join(dataDir(paths), 'postmaster.pid'), 'utf8'), 10);
  writePid(paths, 'postgres', pid);
  return pid;
}

async function initCluster(paths: StackPaths, report: Report): Promise<void> {
  const dir = dataDir(paths);
  if (existsSync(join(dir, 'PG_VERSION'))) return;
  report(`postgres: creating the project's cluster in ${displayPath(dir)} (initdb)...`);
  await serverOwnedDir(dir);
  const args = [
    '-D',
    dir,
    '--auth=trust',
    '-U',
    PG_USER,
    '--encoding=UTF8',
    '--locale=C.UTF-8',
    '--no-instructions',
  ];
  await runOrFail('postgres: initdb', ...asServerUser('initdb', args), {
    logFile: join(paths.logsDir, 'postgres-initdb.log'),
  });
}

/** Unix socket paths are limited to about 107 bytes, so a deep checkout gets its socket under the temp dir. */
function socketDirFor(paths: StackPaths, ports: StackPorts): string {
  const inside = join(paths.stackDir, 'pg-socket');
  return `${inside}/.s.PGSQL.${ports.postgres}`.length <= MAX_SOCKET_PATH
    ? inside
    : join(tmpdir(), `tavio-pg-${ports.postgres}`);
}

async function serverOwnedDir(dir: string): Promise<string> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  await chownToServerUser(dir);
  if (isRoot() && (await runCommand('runuser', ['-u', OS_USER, '--', 'test', '-w', dir])).code !== 0) {
    throw new StackError(
      `postgres: the '${OS_USER}' OS user cannot reach ${dir} (a parent folder is not world-traversable); chmod o+x the parent folders or set TAVIO_STACK_DIR to a folder under /tmp`,
    );
  }
  return dir;
}

async function chownToServerUser(path: string): Promise<void> {
  if (isRoot()) await runOrFail(`postgres: chown of ${path}`, 'chown', ['-R', `${OS_USER}:`, path]);
}

async function ensureDatabases(ports: StackPorts, report: Report): Promise<void> {
  const listing = await psql(
    ports,
    `SELECT datname FROM pg_database WHERE datname IN ('${PG_DATABASE}', '${PG_TEMPLATE_DATABASE}')`,
  );
  const existing = new Set(listing.split('\n'));
  if (!existing.has(PG_DATABASE)) {
    report(`postgres: creating database ${PG_DATABASE}...`);
    await psql(ports, `CREATE DATABASE "${PG_DATABASE}"`);
  }
  if (!existing.has(PG_TEMPLATE_DATABASE)) {
    report(`postgres: creating template database ${PG_TEMPLATE_DATABASE}...`);
    await psql(ports, `CREATE DATABASE "${PG_TEMPLATE_DATABASE}" IS_TEMPLATE true`);
  }
}

async function psql(ports: StackPorts, sql: string): Promise<string> {
  const args = [
    '-X',
    '-q',
    '-t',
    '-A',
    '-v',
    'ON_ERROR_STOP=1',
    '-h',
    '127.0.0.1',
    '-p',
    String(ports.postgres),
    '-U',
    PG_USER,
    '-d',
    'postgres',
    '-c',
    sql,
  ];
  const result = await runCommand(pgBin('psql'), args);
  if (result.code !== 0) {
    throw new StackError(
      `postgres: the server on 127.0.0.1:${ports.postgres} refused \`${sql}\` as role ${PG_USER} (is it this stack's cluster? stop it or set TAVIO_PG_PORT=<port>): ${result.output}`,
    );
  }
  return result.output;
}

export async function stopPostgres(paths: StackPaths, report: Report): Promise<void> {
  const pid = readPid(paths, 'postgres');
  if (pid === undefined || livePid(paths, 'postgres') === undefined) {
    report(
      pid === undefined
        ? 'postgres: no pid file, nothing to stop'
        : `postgres: pid ${pid} is no longer running, removing its pid file`,
    );
    removePid(paths, 'postgres');
    return;
  }
  report(`postgres: stopping pid ${pid} (pg_ctl stop -m fast)...`);
  const result = await runCommand(
    ...asServerUser('pg_ctl', ['-D', dataDir(paths), 'stop', '-m', 'fast', '-w', '-t', '10']),
  );
  if (result.code !== 0) {
    report(`postgres: pg_ctl stop failed (${result.output}), sending SIGTERM to ${pid}...`);
    if (!(await terminate(pid))) throw new StackError(`postgres: pid ${pid} did not stop even after SIGKILL`);
  }
  removePid(paths, 'postgres');
  report('postgres: stopped');
}
