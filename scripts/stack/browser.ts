import { ensureExecutable } from './apt.js';
import type { Report } from './config.js';
import type { Outcome } from './managed.js';

/** The browser the Web UI's tests drive (through playwright-core; no browser download at run time). */
export const CHROMIUM = '/usr/bin/chromium';

export const ensureBrowser = (report: Report): Promise<Outcome> =>
  ensureExecutable(CHROMIUM, 'chromium', 'Chromium, for browser tests of the Web UI', report);
