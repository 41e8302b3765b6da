import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { sshFingerprint } from '../../common/ssh-fingerprint.js';
import { FIXTURE_HOST } from '../../fixtures/serve.js';
import { passwd } from '../../workers/sandbox-system.js';
import { ensureExecutable } from './apt.js';
import { StackError, displayPath, type Report, type StackPaths, type StackPorts } from './config.js';
import { ensureManaged, stopByPidFile, type Outcome } from './managed.js';
import { findOnPath, isRoot, runCommand, runOrFail, spawnDetached } from './process.js';

/**
 * The customer-side SFTP server: OpenSSH's sshd serving `internal-sftp` only, on a loopback
 * address of the customer side (where the fixture systems live), with a host key of its own.
 * Its users are OS users of the group SFTP_GROUP, each locked into its own folder under SFTP_ROOT
 * (a chroot, which OpenSSH requires to be owned by root all the way up, so it lives outside the
 * checkout); tests create and delete them (`test/support/sftp.ts`). It needs root: sshd switches
 * to its users.
 */

export const SSHD = '/usr/sbin/sshd';
export const SFTP_GROUP = 'tavio-sftp';
/** Each user's chroot is SFTP_ROOT/<user>; its writable folder is `files` inside it. */
export const SFTP_ROOT = '/srv/tavio-sftp';
/** Public keys a user may sign in with, one file per user, owned by root. */
export const SFTP_KEYS = '/srv/tavio-sftp-keys';
/** The names of the accounts tests make. */
export const SFTP_USER_PREFIX = 'tvs-';
const SYSTEM_SSHD_DROP_INS = '/etc/ssh/sshd_config.d';

export interface SftpServer {
  host: string;
  port: number;
  /** The host key's fingerprint as OpenSSH prints it: `SHA256:` and unpadded base64. */
  hostKeySha256: string;
}

export const sftpUrl = (ports: StackPorts): string => `sftp://${FIXTURE_HOST}:${ports.sftp}`;

const sftpDir = (paths: StackPaths) => join(paths.stackDir, 'sftp');
const hostKeyFile = (paths: StackPaths) => join(sftpDir(paths), 'ssh_host_ed25519_key');

/** The fingerprint of the host key, read from its public half; undefined before the first start. */
export function sftpServer(paths: StackPaths, ports: StackPorts): SftpServer | undefined {
  const publicKey = `${hostKeyFile(paths)}.pub`;
  if (!existsSync(publicKey)) return undefined;
  const [, blob] = readFileSync(publicKey, 'utf8').trim().split(/\s+/);
  return {
    host: FIXTURE_HOST,
    port: ports.sftp,
    hostKeySha256: sshFingerprint(Buffer.from(blob!, 'base64')),
  };
}

/** Answers whether an SSH server greets on the port (its banner starts with `SSH-2.0-`). */
export function sftpHealthy(ports: StackPorts): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: FIXTURE_HOST, port: ports.sftp, timeout: 1_000 });
    const finish = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.once('data', (chunk) => finish(chunk.toString('latin1').startsWith('SSH-2.0-')));
    socket.once('timeout', () => finish(false));
    socket.once('error', () => finish(false));
  });
}

function sshdConfig(paths: StackPaths, ports: StackPorts): string {
  return [
    `Port ${ports.sftp}`,
    `ListenAddress ${FIXTURE_HOST}`,
    `HostKey ${hostKeyFile(paths)}`,
    `PidFile ${join(sftpDir(paths), 'sshd.pid')}`,
    `AuthorizedKeysFile ${SFTP_KEYS}/%u`,
    'PasswordAuthentication yes',
    'PubkeyAuthentication yes',
    'KbdInteractiveAuthentication no',
    'PermitRootLogin no',
    'UsePAM no',
    `AllowGroups ${SFTP_GROUP}`,
    'Subsystem sftp internal-sftp',
    `ChrootDirectory ${SFTP_ROOT}/%u`,
    // Files arrive readable by their owner only, whatever the client asks for.
    'ForceCommand internal-sftp -u 077',
    // No TCP, socket, agent or X11 forwarding, no tunnel devices: files only.
    'DisableForwarding yes',
    'PermitTunnel no',
    'PermitTTY no',
    'MaxAuthTries 3',
    'LogLevel INFO',
    '',
  ].join('\n');
}

async function prepare(paths: StackPaths, ports: StackPorts, report: Report): Promise<string> {
  if (
    (await ensureExecutable(SSHD, 'openssh-server', 'OpenSSH, the customer-side SFTP server', report)) ===
    'started'
  ) {
    // The package may enable a system-wide sshd of its own; the stack runs its own instead.
    if (findOnPath('systemctl') !== undefined) await runCommand('systemctl', ['disable', '--now', 'ssh']);
  }
  const dir = sftpDir(paths);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (!existsSync(hostKeyFile(paths))) {
    await runOrFail('sftp: ssh-keygen', 'ssh-keygen', [
      '-q',
      '-t',
      'ed25519',
      '-N',
      '',
      '-C',
      'tavio-sftp',
      '-f',
      hostKeyFile(paths),
    ]);
  }
  // sshd's privilege separation folder, which the system's service would create.
  mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  for (const folder of [SFTP_ROOT, SFTP_KEYS]) {
    mkdirSync(folder, { recursive: true, mode: 0o755 });
    chmodSync(folder, 0o755);
  }
  const group = await runCommand('getent', ['group', SFTP_GROUP]);
  if (group.code !== 0) await runOrFail('sftp: groupadd', 'groupadd', ['--system', SFTP_GROUP]);
  // A system-wide sshd, if the machine runs one, never lets these accounts in.
  if (existsSync(SYSTEM_SSHD_DROP_INS))
    writeFileSync(join(SYSTEM_SSHD_DROP_INS, 'tavio-sftp.conf'), `DenyGroups ${SFTP_GROUP}\n`, {
      mode: 0o644,
    });
  await removeLeftoverAccounts(report);
  const config = join(dir, 'sshd_config');
  writeFileSync(config, sshdConfig(paths, ports), { mode: 0o600 });
  const check = await runCommand(SSHD, ['-t', '-f', config]);
  if (check.code !== 0) throw new StackError(`sftp: sshd refuses its configuration: ${check.output.trim()}`);
  return config;
}

/** Accounts of tests that ended before deleting theirs: nothing uses them while the server is down. */
async function removeLeftoverAccounts(report: Report): Promise<void> {
  const leftovers = (await passwd()).filter((user) => user.name.startsWith(SFTP_USER_PREFIX));
  if (leftovers.length > 0) report(`sftp: removing ${leftovers.length} account(s) left by earlier tests...`);
  for (const { name } of leftovers) {
    await runCommand('userdel', [name]);
    rmSync(join(SFTP_ROOT, name), { recursive: true, force: true });
    rmSync(join(SFTP_KEYS, name), { force: true });
  }
}

export function ensureSftp(paths: StackPaths, ports: StackPorts, report: Report): Promise<Outcome> {
  if (!isRoot()) {
    report('sftp: not started: the SFTP server needs root (sshd switches to its users)');
    return Promise.resolve('skipped');
  }
  const logFile = join(paths.logsDir, 'sftp.log');
  return ensureManaged(
    {
      name: 'sftp',
      url: sftpUrl(ports),
      ports: [],
      deadlineMs: 15_000,
      logFiles: [logFile],
      healthy: () => sftpHealthy(ports),
      start: async () => {
        const config = await prepare(paths, ports, report);
        report(
          `sftp: starting sshd (internal-sftp) on ${FIXTURE_HOST}:${ports.sftp}, log ${displayPath(logFile)}...`,
        );
        return spawnDetached(paths, {
          name: 'sftp',
          command: SSHD,
          args: ['-D', '-e', '-f', config],
          logFile,
        });
      },
    },
    paths,
    report,
  );
}

export function stopSftp(paths: StackPaths, report: Report): Promise<void> {
  return stopByPidFile(paths, 'sftp', 'sshd', report);
}
