import { execFile } from 'node:child_process';
import { lookup } from 'node:dns/promises';
import { chmod, chown, lstat, mkdir, mkdtemp, readdir, readFile, rm, rmdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { unbracketed } from '../common/address-rules.js';
import { SANDBOX_USER_PREFIX, WORKERS_SET } from './sandbox-rules.js';
import type { Endpoint } from './sandbox-rules.js';

/**
 * The operating system's side of the environment worker sandbox: OS users, private temporary
 * folders and nftables, each through a command run with an argument array (never a shell).
 */

/** A command that ran and failed: its exit code, when it got one, and what it said. */
export class CommandFailed extends Error {
  constructor(
    readonly command: string,
    readonly exitCode: number | undefined,
    detail: string,
  ) {
    super(`${command} failed${exitCode === undefined ? '' : ` with exit code ${exitCode}`}: ${detail}`);
  }
}

/** Commands get a fixed PATH and nothing else of the host's environment, which holds its keys. */
const COMMAND_ENV = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' };
const COMMAND_TIMEOUT_MS = 15_000;

/** Runs a command without a shell, with that fixed environment; answers its standard output. */
export function run(
  command: string,
  args: string[],
  options: { input?: string; uid?: number; gid?: number } = {},
): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      command,
      args,
      { env: COMMAND_ENV, timeout: COMMAND_TIMEOUT_MS, uid: options.uid, gid: options.gid },
      (error, stdout, stderr) => {
        if (!error) return resolve(stdout);
        const detail = stderr.replace(/\s+/g, ' ').trim().slice(0, 500) || error.message;
        reject(new CommandFailed(command, typeof error.code === 'number' ? error.code : undefined, detail));
      },
    );
    // A command that exits before reading its input fails on its own terms, not with EPIPE here.
    child.stdin?.on('error', () => undefined);
    if (options.input === undefined) child.stdin?.end();
    else child.stdin?.end(options.input);
  });
}

/** Applies an nftables script in one transaction: all of it or nothing. */
export const nft = (script: string): Promise<string> => run('nft', ['-f', '-'], { input: script });

/** The uids in a sandbox table's set of workers. */
export async function workerUids(table: string): Promise<number[]> {
  const answer = JSON.parse(await run('nft', ['-j', 'list', 'set', 'inet', table, WORKERS_SET])) as {
    nftables: { set?: { elem?: number[] } }[];
  };
  return answer.nftables.flatMap((entry) => entry.set?.elem ?? []);
}

export const deleteTable = (table: string): Promise<string> => run('nft', ['delete', 'table', 'inet', table]);

/** The addresses of a host name (or literal), each with the port. */
export async function endpointsOf(host: string, port: number): Promise<Endpoint[]> {
  const answers = await lookup(unbracketed(host), { all: true, verbatim: true });
  return answers.map(({ address }) => ({ address, port }));
}

export interface OsUser {
  name: string;
  uid: number;
  gid: number;
}

/** The local OS users, from the user database. */
export async function passwd(): Promise<OsUser[]> {
  return (await readFile('/etc/passwd', 'utf8'))
    .split('\n')
    .filter(Boolean)
    .map((line) => line.split(':'))
    .map(([name = '', , uid, gid]) => ({ name, uid: Number(uid), gid: Number(gid) }));
}

function checkedSandboxUser(user: OsUser): OsUser {
  if (!user.name.startsWith(SANDBOX_USER_PREFIX)) throw new Error(`${user.name} is not a sandbox user`);
  if (!(user.uid > 0 && user.gid > 0)) throw new Error(`${user.name} has uid ${user.uid}, gid ${user.gid}`);
  return user;
}

const USERADD_NAME_IN_USE = 9;
const USERDEL_NO_SUCH_USER = 6;
const USERDEL_USER_BUSY = 8;

/** Creates a system user without home or login shell, or reuses the one of that name. */
export async function ensureUser(name: string): Promise<OsUser> {
  checkedSandboxUser({ name, uid: 1, gid: 1 });
  try {
    await run('useradd', ['-M', '-r', '-s', '/usr/sbin/nologin', '-d', '/nonexistent', name]);
  } catch (error) {
    if (!(error instanceof CommandFailed && error.exitCode === USERADD_NAME_IN_USE)) throw error;
  }
  const user = (await passwd()).find((entry) => entry.name === name);
  if (!user) throw new Error(`${name} is not in /etc/passwd after useradd`);
  return checkedSandboxUser(user);
}

/**
 * Kills every process of a sandbox user with one kill(-1) made as that user: the kernel signals
 * them all at once, so none can fork away meanwhile, and no process of anyone else.
 */
export async function killAllProcessesOf(user: OsUser): Promise<void> {
  const { uid, gid } = checkedSandboxUser(user);
  await run('kill', ['-KILL', '--', '-1'], { uid, gid });
}

/** Kills the user's processes and deletes the user; a user already gone is fine. */
export async function removeUser(user: OsUser): Promise<void> {
  checkedSandboxUser(user);
  for (let attempt = 1; ; attempt += 1) {
    await killAllProcessesOf(user);
    try {
      await run('userdel', [user.name]);
      return;
    } catch (error) {
      if (error instanceof CommandFailed && error.exitCode === USERDEL_NO_SUCH_USER) return;
      // A killed process counts until its parent has reaped it.
      if (!(error instanceof CommandFailed && error.exitCode === USERDEL_USER_BUSY) || attempt === 10)
        throw error;
    }
    await new Promise((resolve) => setTimeout(resolve, 20 * attempt));
  }
}

/** The uids (real, effective, saved or filesystem) of every running process. */
async function uidsInUse(): Promise<Set<number>> {
  const uids = new Set<number>();
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const line = /^Uid:\s+(.*)$/m.exec(await readFile(`/proc/${entry}/status`, 'utf8'));
      for (const uid of line?.[1]?.split(/\s+/) ?? []) uids.add(Number(uid));
    } catch {
      // The process ended while being read.
    }
  }
  return uids;
}

/** Deletes the users `belongs` selects that no running process uses; names those that one does. */
export async function removeUnusedUsers(
  belongs: (name: string) => boolean,
): Promise<{ removed: string[]; inUse: string[] }> {
  const users = (await passwd()).filter((user) => belongs(user.name));
  const busy = await uidsInUse();
  const inUse = users.filter((user) => busy.has(user.uid));
  const unused = users.filter((user) => !busy.has(user.uid));
  for (const user of unused) await removeUser(user);
  return { removed: unused.map((user) => user.name), inUse: inUse.map((user) => user.name) };
}

const homeRootPrefix = (gateway: string): string => `tavio-sandbox-${gateway}-`;

/**
 * A root-owned folder (0711) for a host's private worker folders: each worker can enter its own,
 * and can neither list nor rename the others.
 */
export async function createHomeRoot(gateway: string): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), homeRootPrefix(gateway)));
  await chmod(root, 0o711);
  return root;
}

/** The worker's private folder (its HOME and TMPDIR): owned by its user, mode 0700. */
export async function createHome(root: string, user: OsUser): Promise<string> {
  const home = join(root, checkedSandboxUser(user).name);
  await rm(home, { recursive: true, force: true });
  await mkdir(home, { mode: 0o700 });
  await chown(home, user.uid, user.gid);
  await chmod(home, 0o700);
  return home;
}

/**
 * Removes the folders that earlier hosts of this region left behind, except the homes of the
 * users in `keep` (whose processes still run) and the roots that hold them.
 */
export async function removeStaleHomeRoots(gateway: string, keep: ReadonlySet<string>): Promise<string[]> {
  const removed: string[] = [];
  for (const entry of await readdir(tmpdir())) {
    if (!entry.startsWith(homeRootPrefix(gateway))) continue;
    const root = join(tmpdir(), entry);
    const stat = await lstat(root);
    if (!stat.isDirectory() || stat.uid !== 0) continue;
    for (const home of await readdir(root))
      if (!keep.has(home)) await rm(join(root, home), { recursive: true, force: true });
    await rmdir(root).then(
      () => removed.push(root),
      () => undefined,
    );
  }
  return removed;
}
