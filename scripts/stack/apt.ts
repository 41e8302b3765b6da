import { StackError, type Report } from './config.js';
import { findOnPath, isRoot, runCommand } from './process.js';

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
