import { randomBytes } from 'node:crypto';
import { chown, readFile, rename, stat, utimes, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { proxyUserOf } from '../common/gateway-identity.js';
import type { ProxyCredentials } from '../common/worker-secrets.js';
import { run } from './sandbox-system.js';

/** How long a worker's gateway password is good for; the host renews it at half that. */
const PROXY_CREDENTIAL_SECONDS = 3600;

/** An Apache MD5 (`$apr1$`) hash, which Squid's basic_ncsa_auth reads; the password goes in on stdin. */
async function apr1(password: string): Promise<string> {
  const hash = (await run('openssl', ['passwd', '-apr1', '-stdin'], { input: `${password}\n` })).trim();
  if (!hash.startsWith('$apr1$')) throw new Error('openssl passwd answered no $apr1$ hash');
  return hash;
}

/**
 * This host's workers' credentials at its region's gateway: one proxy user per environment, a
 * fresh random password per issue, only its hash in the gateway's password file. The host owns
 * the whole file: it starts empty, and an environment's entry goes when its worker stops.
 *
 * The gateway reloads the file when its modification time changes, which it reads in whole
 * seconds: each write moves the time at least one second past the previous write.
 */
export function createGatewayCredentials(passwdFile: string) {
  const hashes = new Map<string, string>();
  let lastWrittenSeconds = 0;
  let writing: Promise<void> = Promise.resolve();

  async function writeNow(): Promise<void> {
    const owner = await stat(dirname(passwdFile));
    const staged = join(dirname(passwdFile), `.passwd-${process.pid}`);
    const lines = [...hashes].map(([user, hash]) => `${user}:${hash}\n`).join('');
    await writeFile(staged, lines, { mode: 0o600 });
    if (process.getuid?.() === 0) await chown(staged, owner.uid, owner.gid);
    lastWrittenSeconds = Math.max(Math.floor(Date.now() / 1000), lastWrittenSeconds + 1);
    await utimes(staged, lastWrittenSeconds, lastWrittenSeconds);
    await rename(staged, passwdFile);
  }

  /** Writes run one after another, each with the entries as they are when it starts. */
  const write = (): Promise<void> => {
    writing = writing.catch(() => undefined).then(writeNow);
    return writing;
  };

  return {
    /** Empties the file of entries an earlier run of this host left. */
    reset: write,
    async issue(environmentId: string): Promise<ProxyCredentials> {
      const username = proxyUserOf(environmentId);
      const password = randomBytes(24).toString('base64url');
      hashes.set(username, await apr1(password));
      await write();
      const expiresAt = new Date(Date.now() + PROXY_CREDENTIAL_SECONDS * 1000).toISOString();
      return { username, password, expiresAt };
    },
    async revoke(environmentId: string): Promise<void> {
      if (hashes.delete(proxyUserOf(environmentId))) await write();
    },
    /** Whether the gateway's password file still has an entry for the environment (read from the file). */
    async listed(environmentId: string): Promise<boolean> {
      await writing.catch(() => undefined);
      const user = proxyUserOf(environmentId);
      return (await readFile(passwdFile, 'utf8')).split('\n').some((line) => line.startsWith(`${user}:`));
    },
    async revokeAll(): Promise<void> {
      hashes.clear();
      await write();
    },
  };
}
export type GatewayCredentials = ReturnType<typeof createGatewayCredentials>;
