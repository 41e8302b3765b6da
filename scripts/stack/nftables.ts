import { ensureExecutable } from './apt.js';
import type { Report } from './config.js';
import type { Outcome } from './managed.js';
import { isRoot } from './process.js';

/** What region hosts load their workers' network rules with; needed only where they run as root. */
export const NFT = '/usr/sbin/nft';

export const ensureNftables = (report: Report): Promise<Outcome> =>
  isRoot()
    ? ensureExecutable(NFT, 'nftables', "nftables, for the environment workers' network rules", report)
    : Promise.resolve('reused');
