import { StackError, type Report } from './config.js';
import type { Outcome } from './managed.js';
import { findOnPath, isExecutable, isRoot, runCommand } from './process.js';

/** Installs a Debian package when this script may (root with apt-get); otherwise fails naming the package. */
export async function aptInstall(pkg: string, what: string, report: Report): Promise<void> {
  const aptGet = findOnPath('apt-get');
  if (!isRoot() || aptGet === undefined) {
    throw new StackError(
      `${what} not found: install the Debian package ${pkg} (sudo apt-get install -y ${pkg}) and run this again`,
    );
  }
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  report(`installing Debian package ${pkg} for ${what} with apt-get (can take a minute)...`);
  let result = await runCommand(aptGet, ['install', '-y', pkg], { env });
  if (result.code !== 0) {
    report('apt-get install failed, refreshing the package lists (apt-get update) and retrying...');
    await runCommand(aptGet, ['update'], { env });
    result = await runCommand(aptGet, ['install', '-y', pkg], { env });
  }
  if (result.code !== 0) {
    throw new StackError(
      `${what} not found and \`apt-get install -y ${pkg}\` failed (exit ${result.code}); install ${pkg} yourself:\n${result.output.slice(-2_000)}`,
    );
  }
}

/** A program the stack needs from a Debian package: reused when present, installed otherwise. */
export async function ensureExecutable(
  path: string,
  pkg: string,
  what: string,
  report: Report,
): Promise<Outcome> {
  if (isExecutable(path)) return 'reused';
  await aptInstall(pkg, `${what} (${path})`, report);
  if (!isExecutable(path)) throw new StackError(`${pkg} was installed but ${path} is still missing`);
  return 'started';
}
