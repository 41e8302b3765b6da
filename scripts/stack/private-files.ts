import { chmodSync, lstatSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PG_OS_USER, type StackPaths } from './config.js';
import { isRoot, runCommand, runOrFail } from './process.js';

/**
 * The runtime folder (.stack) holds keys and passwords: its files are 0600 and its folders 0700.
 * Run as root, PostgreSQL and the gateways (Squid) run as OS users of their own, which must pass
 * through .stack, .stack/logs and .stack/gateways to reach their own folders: those are 0710 with
 * the group `SERVICES_GROUP` that only those users belong to (enter, never list).
 */
export const SERVICES_GROUP = 'tavio-stack';
/** Squid's user on Debian; each gateway's folder is its own. */
const GATEWAY_OS_USER = 'proxy';

/** A local OS user's uid and gid, from the user database. */
function osIds(name: string): { uid: number; gid: number } {
  const entry = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .map((line) => line.split(':'))
    .find((fields) => fields[0] === name);
  if (!entry) throw new Error(`the OS user ${name} does not exist`);
  return { uid: Number(entry[2]), gid: Number(entry[3]) };
}

/** Folders PostgreSQL owns and keeps private itself; the walk leaves them alone. */
const SERVER_OWNED = new Set(['postgres', 'pg-socket']);

/** Creates the runtime folders, and tightens whatever an earlier stack left readable to others. */
export async function secureStackDir(paths: StackPaths): Promise<void> {
  mkdirSync(paths.pidsDir, { recursive: true, mode: 0o700 });
  await letServerUserThrough(paths);
  tighten(paths.stackDir, new Set([paths.stackDir, paths.logsDir, gatewaysDir(paths)]));
}

export const gatewaysDir = (paths: StackPaths): string => join(paths.stackDir, 'gateways');

/** The folders on the service users' way: 0710 with their group when they are other users. */
export async function letServerUserThrough(paths: StackPaths): Promise<void> {
  if (isRoot()) await ensureServicesGroup();
  for (const dir of [paths.stackDir, paths.logsDir, gatewaysDir(paths)]) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    if (isRoot()) await runOrFail(`chgrp of ${dir}`, 'chgrp', [SERVICES_GROUP, dir]);
    chmodSync(dir, isRoot() ? 0o710 : 0o700);
  }
}

/** The group of the stack's service users, and nobody else. */
async function ensureServicesGroup(): Promise<void> {
  await runOrFail(`creating group ${SERVICES_GROUP}`, 'groupadd', ['-f', SERVICES_GROUP]);
  for (const user of [PG_OS_USER, GATEWAY_OS_USER]) {
    const groups = await runCommand('id', ['-nG', user]);
    if (groups.code === 0 && !groups.output.split(/\s+/).includes(SERVICES_GROUP))
      await runOrFail(`adding ${user} to ${SERVICES_GROUP}`, 'usermod', ['-aG', SERVICES_GROUP, user]);
  }
}

/** The gateway's OS user's ids, read from the user database. */
export const GATEWAY_USER = {
  uid: () => osIds(GATEWAY_OS_USER).uid,
  gid: () => osIds(GATEWAY_OS_USER).gid,
};

/** Writes a file only its owner can read, also when it existed with a wider mode. */
export function writePrivateFile(file: string, content: string): void {
  writeFileSync(file, content, { mode: 0o600 });
  chmodSync(file, 0o600);
}

/** Files lose every group and other bit; folders become 0700, except those `letServerUserThrough` set. */
function tighten(dir: string, passages: ReadonlySet<string>, top = true): void {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    const stat = lstatSync(path);
    if (stat.isSymbolicLink() || (top && SERVER_OWNED.has(name))) continue;
    if (stat.isDirectory()) {
      if (!passages.has(path)) chmodSync(path, 0o700);
      tighten(path, passages, false);
    } else if ((stat.mode & 0o077) !== 0) {
      chmodSync(path, stat.mode & 0o700);
    }
  }
}
