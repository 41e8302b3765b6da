import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { aptInstall } from './apt.js';
import {
  PG_ADMIN_ROLE,
  PG_APP_ROLE,
  PG_BIN_DIR,
  PG_DATABASE,
  PG_OS_USER,
  StackError,
  displayPath,
  type Report,
  type StackPaths,
  type StackPorts,
} from './config.js';
import { ensureManaged, type Outcome } from './managed.js';
import {
  credentialsFile,
  newPgCredentials,
  pgUrl,
  readPgCredentials,
  writePgCredentials,
  type PgCredentials,
} from './postgres-credentials.js';
import { asRole, ensureRolesAndDatabases } from './postgres-roles.js';
import { letServerUserThrough, writePrivateFile } from './private-files.js';
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

const MAX_SOCKET_PATH = 100;
/** The bootstrap superuser of clusters made before the stack had roles and passwords. */
const TRUST_ERA_SUPERUSER = 'tavio';

/** Where the control database is, without a password: for progress lines and status. */
export function databaseDisplayUrl(ports: StackPorts): string {
  return `postgres://${PG_APP_ROLE}@127.0.0.1:${ports.postgres}/${PG_DATABASE}`;
}

export interface DatabaseUrls {
  /** The application role: what the control API runs as. */
  app: string;
  /** The owner: what migrations run as. */
  owner: string;
  /** The bootstrap superuser, on the `postgres` database: for tests that create databases of their own. */
  admin: string;
}

export function databaseUrls(paths: StackPaths, ports: StackPorts): DatabaseUrls {
  const credentials = readPgCredentials(paths);
  if (!credentials) {
    throw new StackError(
      `postgres: no ${displayPath(credentialsFile(paths))}; run \`npm run stack -- up\` to create the cluster's roles`,
    );
  }
  return {
    app: pgUrl(ports, credentials.app, PG_DATABASE),
    owner: pgUrl(ports, credentials.owner, PG_DATABASE),
    admin: pgUrl(ports, credentials.admin, 'postgres'),
  };
}

const pgBin = (name: string): string => join(PG_BIN_DIR, name);
const dataDir = (paths: StackPaths): string => join(paths.stackDir, 'postgres');
const logFile = (paths: StackPaths): string => join(paths.logsDir, 'postgres.log');
const hasCluster = (paths: StackPaths): boolean => existsSync(join(dataDir(paths), 'PG_VERSION'));

/** initdb and postgres refuse to run as root, so as root they run as the postgres OS user. */
function asServerUser(bin: string, args: readonly string[]): [string, string[]] {
  return isRoot() ? ['runuser', ['-u', PG_OS_USER, '--', pgBin(bin), ...args]] : [pgBin(bin), [...args]];
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
    PG_ADMIN_ROLE,
    '-d',
    'postgres',
    '-t',
    '2',
  ]);
  return result.code === 0;
}

/**
 * The stack's cluster, with password sign-in (SCRAM) for every connection, the owner and application
 * roles and the two databases. A cluster from before (trust sign-in, no credentials file) is moved over.
 */
export async function ensurePostgres(paths: StackPaths, ports: StackPorts, report: Report): Promise<Outcome> {
  await letServerUserThrough(paths);
  const outcome = await ensureManaged(
    {
      name: 'postgres',
      url: databaseDisplayUrl(ports),
      ports: [{ port: ports.postgres, envVar: 'TAVIO_PG_PORT' }],
      deadlineMs: 30_000,
      logFiles: [logFile(paths)],
      healthy: () => pgReady(ports.postgres),
      start: () => startPostgres(paths, ports, report),
    },
    paths,
    report,
  );
  const credentials = readPgCredentials(paths) ?? (await adoptTrustCluster(paths, ports, report));
  await ensureRolesAndDatabases(ports, credentials, report);
  if (hasCluster(paths) && (await writeHba(paths))) {
    report('postgres: every connection now signs in with a password (SCRAM); reloading the configuration...');
    await asRole(
      ports,
      credentials.admin,
      'postgres',
      'reloading pg_hba.conf',
      (sql) => sql`select pg_reload_conf()`,
    );
  }
  return outcome;
}

async function startPostgres(paths: StackPaths, ports: StackPorts, report: Report): Promise<number> {
  if (!isExecutable(pgBin('pg_ctl'))) {
    await aptInstall('postgresql', `PostgreSQL 15 server binaries (${PG_BIN_DIR})`, report);
  }
  await initCluster(paths, report);
  if (readPgCredentials(paths)) await writeHba(paths);
  const socketDir = await serverOwnedDir(socketDirFor(paths, ports));
  const log = logFile(paths);
  appendFileSync(log, `--- ${new Date().toISOString()} pg_ctl start\n`, { mode: 0o600 });
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
  if (hasCluster(paths)) return;
  report(`postgres: creating the project's cluster in ${displayPath(dir)} (initdb)...`);
  await serverOwnedDir(dir);
  const credentials = readPgCredentials(paths) ?? newPgCredentials();
  writePgCredentials(paths, credentials);
  // initdb reads the superuser's password from a file: one only the server user can read, removed at once.
  const pwDir = mkdtempSync(join(tmpdir(), 'tavio-initdb-'));
  const pwFile = join(pwDir, 'password');
  try {
    writePrivateFile(pwFile, `${credentials.admin.password}\n`);
    await chownToServerUser(pwDir);
    const args = [
      '-D',
      dir,
      '--auth=scram-sha-256',
      `--pwfile=${pwFile}`,
      '-U',
      credentials.admin.user,
      '--encoding=UTF8',
      '--locale=C.UTF-8',
      '--no-instructions',
    ];
    await runOrFail('postgres: initdb', ...asServerUser('initdb', args), {
      logFile: join(paths.logsDir, 'postgres-initdb.log'),
    });
  } finally {
    rmSync(pwDir, { recursive: true, force: true });
  }
}

/**
 * A cluster made before the stack had roles trusted every local connection and has no credentials
 * file: sign in once more without a password, and record new credentials that the next steps set.
 */
async function adoptTrustCluster(
  paths: StackPaths,
  ports: StackPorts,
  report: Report,
): Promise<PgCredentials> {
  if (!hasCluster(paths)) {
    throw new StackError(
      `postgres: 127.0.0.1:${ports.postgres} answers, but ${displayPath(dataDir(paths))} holds no cluster of this stack's: it is another program's server; stop it or set TAVIO_PG_PORT=<port>`,
    );
  }
  const credentials = newPgCredentials(TRUST_ERA_SUPERUSER);
  const trusted = { user: TRUST_ERA_SUPERUSER, password: 'not-asked-under-trust' };
  await asRole(
    ports,
    trusted,
    'postgres',
    'signing in to a cluster without credentials',
    (sql) => sql`select 1`,
  ).catch(() => {
    throw new StackError(
      `postgres: the cluster in ${displayPath(dataDir(paths))} has no ${displayPath(credentialsFile(paths))} and asks for a password, so the stack cannot sign in; run \`npm run stack -- down --purge\` to recreate it (its data is lost)`,
    );
  });
  report(
    `postgres: the cluster in ${displayPath(dataDir(paths))} trusted every local connection; giving it passwords (${displayPath(credentialsFile(paths))}), roles ${credentials.owner.user} and ${credentials.app.user}, and SCRAM sign-in...`,
  );
  writePgCredentials(paths, credentials);
  return credentials;
}

const HBA = `# Written by scripts/stack/postgres.ts: every connection signs in with a password (SCRAM).
# TYPE  DATABASE  USER  ADDRESS       METHOD
local   all       all                 scram-sha-256
host    all       all   127.0.0.1/32  scram-sha-256
host    all       all   ::1/128       scram-sha-256
`;

/** Writes pg_hba.conf when it says anything else; answers whether it did (the server then needs a reload). */
async function writeHba(paths: StackPaths): Promise<boolean> {
  const file = join(dataDir(paths), 'pg_hba.conf');
  if (existsSync(file) && readFileSync(file, 'utf8') === HBA) return false;
  writePrivateFile(file, HBA);
  await chownToServerUser(file);
  return true;
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
  if (isRoot() && (await runCommand('runuser', ['-u', PG_OS_USER, '--', 'test', '-w', dir])).code !== 0) {
    throw new StackError(
      `postgres: the '${PG_OS_USER}' OS user cannot reach ${dir} (a parent folder is not world-traversable); chmod o+x the parent folders or set TAVIO_STACK_DIR to a folder under /tmp`,
    );
  }
  return dir;
}

async function chownToServerUser(path: string): Promise<void> {
  if (isRoot()) await runOrFail(`postgres: chown of ${path}`, 'chown', ['-R', `${PG_OS_USER}:`, path]);
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
