import { chmodSync, lstatSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PG_OS_USER, type StackPaths } from './config.js';
import { isRoot, runOrFail } from './process.js';

/**
 * The runtime folder (.stack) holds keys and passwords: its files are 0600 and its folders 0700.
 * Run as root, PostgreSQL runs as its own OS user, which must pass through .stack and .stack/logs to
 * reach its data, socket and log: those two are 0710 with that user's group (enter, never list).
 */

/** Folders PostgreSQL owns and keeps private itself; the walk leaves them alone. */
const SERVER_OWNED = new Set(['postgres', 'pg-socket']);

/** Creates the runtime folders, and tightens whatever an earlier stack left readable to others. */
export async function secureStackDir(paths: StackPaths): Promise<void> {
  mkdirSync(paths.pidsDir, { recursive: true, mode: 0o700 });
  await letServerUserThrough(paths);
  tighten(paths.stackDir, new Set([paths.stackDir, paths.logsDir]));
}

/** The folders on the server user's way (.stack, .stack/logs): 0710 with its group when it is another user. */
export async function letServerUserThrough(paths: StackPaths): Promise<void> {
  for (const dir of [paths.stackDir, paths.logsDir]) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    if (isRoot()) await runOrFail(`chgrp of ${dir}`, 'chgrp', [PG_OS_USER, dir]);
    chmodSync(dir, isRoot() ? 0o710 : 0o700);
  }
}

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
