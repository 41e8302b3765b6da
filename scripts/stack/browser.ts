import { aptInstall } from './apt.js';
import { StackError, type Report } from './config.js';
import type { Outcome } from './managed.js';
import { isExecutable } from './process.js';

/** The browser the Web UI's tests drive (through playwright-core; no browser download at run time). */
export const CHROMIUM = '/usr/bin/chromium';

export async function ensureBrowser(report: Report): Promise<Outcome> {
  if (isExecutable(CHROMIUM)) return 'reused';
  await aptInstall('chromium', `Chromium (${CHROMIUM}, for browser tests of the Web UI)`, report);
  if (!isExecutable(CHROMIUM))
    throw new StackError(`chromium was installed but ${CHROMIUM} is still missing`);
  return 'started';
}
