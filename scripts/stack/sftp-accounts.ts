import { randomBytes } from 'node:crypto';
import { chown, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import type { SFTPWrapper } from 'ssh2';
import { sshFingerprint } from '../../common/ssh-fingerprint.js';
import { passwd, run } from '../../workers/sandbox-system.js';
import { SFTP_GROUP, SFTP_KEYS, SFTP_ROOT, SFTP_USER_PREFIX } from './sftp.js';
import type { SftpServer } from './sftp.js';

/**
 * An account on the stack's SFTP server, made for a test, a benchmark or the demo: an OS user of
 * the server's group, locked into its own folder, whose `files` folder (its home, where a session
 * starts) its maker reads and writes on disk as `folder`. Making one takes root.
 */
export interface SftpAccount {
  username: string;
  password: string;
  /** The account's home on this machine's disk. */
  folder: string;
  /** The connection's base URL and pinned host key. */
  baseUrl: string;
  hostKeySha256: string;
  /** Lets the account sign in with this OpenSSH public key (`ssh-ed25519 AAAA...`). */
  authorize(publicKey: string): Promise<void>;
  /** Puts a file in the account's home, owned by the account. */
  put(name: string, content: string | Buffer): Promise<void>;
  /** The names in the account's home, sorted. */
  list(): Promise<string[]>;
  /** A connection of kind `sftp` to the account, signed in by password, as the control API takes it. */
  connection(name: string, credentials?: Record<string, string>): SftpConnectionRequest;
  close(): Promise<void>;
}

export interface SftpConnectionRequest {
  name: string;
  kind: 'sftp';
  baseUrl: string;
  credentials: Record<string, string>;
}

async function idsOf(username: string): Promise<{ uid: number; gid: number }> {
  const user = (await passwd()).find((entry) => entry.name === username);
  if (!user) throw new Error(`${username} is not in /etc/passwd after useradd`);
  return user;
}

export async function createSftpAccount(server: SftpServer | undefined): Promise<SftpAccount> {
  if (!server) throw new Error('the stack runs no SFTP server: it needs root');
  const username = `${SFTP_USER_PREFIX}${randomBytes(6).toString('hex')}`;
  const password = randomBytes(18).toString('base64url');
  const root = join(SFTP_ROOT, username);
  const folder = join(root, 'files');
  const remove = async () => {
    await run('userdel', [username]).catch(() => undefined);
    await rm(root, { recursive: true, force: true });
    await rm(join(SFTP_KEYS, username), { force: true });
  };
  try {
    await create(username, password, root, folder);
  } catch (error) {
    await remove();
    throw error;
  }
  const ids = await idsOf(username);
  return {
    username,
    password,
    folder,
    baseUrl: `sftp://${server.host}:${server.port}`,
    hostKeySha256: server.hostKeySha256,
    authorize: (publicKey) => writeFile(join(SFTP_KEYS, username), `${publicKey.trim()}\n`, { mode: 0o644 }),
    async put(name, content) {
      await writeFile(join(folder, name), content, { mode: 0o600 });
      await chown(join(folder, name), ids.uid, ids.gid);
    },
    list: async () => (await readdir(folder)).sort(),
    connection: (name, credentials = {}) => ({
      name,
      kind: 'sftp',
      baseUrl: `sftp://${server.host}:${server.port}`,
      credentials: { username, password, hostKeySha256: server.hostKeySha256, ...credentials },
    }),
    close: remove,
  };
}

/** The OS user, its chroot (root's) and its home inside it (its own). */
async function create(username: string, password: string, root: string, folder: string): Promise<void> {
  await run('useradd', [
    '--no-create-home',
    '--gid',
    SFTP_GROUP,
    '--home-dir',
    '/files',
    '--shell',
    '/usr/sbin/nologin',
    username,
  ]);
  await run('chpasswd', [], { input: `${username}:${password}\n` });
  const ids = await idsOf(username);
  // The chroot belongs to root and nobody may write it; the home inside it belongs to the user.
  await mkdir(root, { mode: 0o755 });
  await mkdir(folder, { mode: 0o700 });
  await chown(folder, ids.uid, ids.gid);
}

/** A file's bytes as the account's home holds them. */
export const readAccountFile = (account: SftpAccount, name: string) => readFile(join(account.folder, name));

/** An SFTP session of the account straight to the server (tests that are not about the way there). */
export async function directSftp(account: SftpAccount): Promise<{ sftp: SFTPWrapper; close(): void }> {
  const url = new URL(account.baseUrl);
  const client = new ssh2.Client();
  await new Promise<void>((resolve, reject) => {
    client.once('ready', resolve).once('error', reject);
    client.connect({
      host: url.hostname,
      port: Number(url.port),
      username: account.username,
      password: account.password,
      hostVerifier: (key: Buffer) => sshFingerprint(key) === account.hostKeySha256,
    });
  });
  const sftp = await new Promise<SFTPWrapper>((resolve, reject) =>
    client.sftp((error, session) => (error ? reject(error) : resolve(session))),
  );
  return { sftp, close: () => client.end() };
}
