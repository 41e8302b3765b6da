import { execFile, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { chmod, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import type { Server } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRegionSandbox } from '../../workers/sandbox.js';
import type { RegionSandbox } from '../../workers/sandbox.js';
import { sandboxTableName, sandboxUserName } from '../../workers/sandbox-rules.js';
import { ensureUser, workerUids } from '../../workers/sandbox-system.js';
import type { WorkerIdentity } from '../../workers/supervisor.js';

/**
 * The kernel holds an environment worker's lines: its own user, its own folder, and TCP to the
 * two allowed addresses only. Needs root, not the stack: the servers are this file's own, and the
 * region is a test-only one (`zz9`), so no running region host's users or table are touched.
 */

const GATEWAY = 'zz9';
const TABLE = sandboxTableName(GATEWAY);
const run = promisify(execFile);

function listen(): Promise<Server> {
  return new Promise((resolve) => {
    const server = createServer((socket) => socket.on('error', () => undefined));
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}
const portOf = (server: Server): number => (server.address() as { port: number }).port;

/** What a process of the sandbox user meets: each probe's answer, 'ok' or an error code. */
const PROBE = `
const net = require('node:net'), fs = require('node:fs');
const connect = (port) => new Promise((resolve) => {
  const socket = net.connect(port, '127.0.0.1');
  socket.on('connect', () => { socket.destroy(); resolve('ok'); });
  socket.on('error', (error) => resolve(error.code));
});
const read = (path) => { try { fs.readFileSync(path); return 'ok'; } catch (error) { return error.code; } };
const write = (path) => { try { fs.writeFileSync(path, 'x'); return 'ok'; } catch (error) { return error.code; } };
(async () => {
  const [temporal, gateway, other, secret, environ, home] = process.argv.slice(1);
  console.log(JSON.stringify({
    temporal: await connect(Number(temporal)),
    gateway: await connect(Number(gateway)),
    other: await connect(Number(other)),
    secret: read(secret),
    environ: read(environ),
    home: write(home + '/probe'),
  }));
})();
`;

function runAs(identity: WorkerIdentity, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', PROBE, ...args], {
      uid: identity.uid,
      gid: identity.gid,
      cwd: '/',
      env: { HOME: identity.home, TMPDIR: identity.home },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`probe exited ${code}`))));
  });
}

const userExists = (name: string): Promise<boolean> =>
  run('id', [name]).then(
    () => true,
    () => false,
  );

describe.skipIf(process.getuid?.() !== 0)('environment worker sandbox (root)', () => {
  const servers: Server[] = [];
  let temporal: Server, gateway: Server, other: Server;
  let sandbox: RegionSandbox;
  let folder: string;

  beforeAll(async () => {
    [temporal, gateway, other] = await Promise.all([listen(), listen(), listen()]);
    servers.push(temporal, gateway, other);
    folder = await mkdtemp(join(tmpdir(), 'tavio-sandbox-test-'));
    await chmod(folder, 0o755);
    sandbox = createRegionSandbox({
      gateway: GATEWAY,
      temporalAddress: `127.0.0.1:${portOf(temporal)}`,
      gatewayUrl: `http://127.0.0.1:${portOf(gateway)}`,
      log: pino({ level: 'silent' }),
    });
    await sandbox.start();
  });

  afterAll(async () => {
    await sandbox?.close();
    await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
    if (folder) await rm(folder, { recursive: true, force: true });
  });

  it('lets a worker reach Temporal and its gateway only, and read nothing of root or of a sibling', async () => {
    const environment = randomUUID();
    const sibling = randomUUID();
    const identity = await sandbox.prepare(environment);
    const siblingIdentity = await sandbox.prepare(sibling);
    const secret = join(folder, 'secret');
    await writeFile(secret, 'root only', { mode: 0o600 });
    // A sibling worker's process, with a secret in its environment.
    const neighbour = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], {
      uid: siblingIdentity.uid,
      gid: siblingIdentity.gid,
      env: { SECRET: 'sibling' },
      stdio: 'ignore',
    });
    try {
      const probe = (environ: string) =>
        runAs(identity, [
          String(portOf(temporal)),
          String(portOf(gateway)),
          String(portOf(other)),
          secret,
          environ,
          identity.home,
        ]).then((out) => JSON.parse(out) as Record<string, string>);
      expect(await probe(`/proc/${neighbour.pid}/environ`)).toEqual({
        temporal: 'ok',
        gateway: 'ok',
        other: 'ECONNREFUSED',
        secret: 'EACCES',
        environ: 'EACCES',
        home: 'ok',
      });
      // The host's own environment (this process, root) is as closed.
      expect((await probe(`/proc/${process.pid}/environ`)).environ).toBe('EACCES');
      const home = await stat(identity.home);
      expect({ uid: home.uid, mode: home.mode & 0o777 }).toEqual({ uid: identity.uid, mode: 0o700 });
    } finally {
      neighbour.kill('SIGKILL');
      await sandbox.release(sibling);
    }

    const name = sandboxUserName(GATEWAY, environment);
    expect(await userExists(name)).toBe(true);
    expect(await workerUids(TABLE)).toContain(identity.uid);
    await sandbox.release(environment);
    expect(await userExists(name)).toBe(false);
    expect(await userExists(sandboxUserName(GATEWAY, sibling))).toBe(false);
    expect(await workerUids(TABLE)).not.toContain(identity.uid);
    await expect(stat(identity.home)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('bounds the connections a worker holds to its gateway', async () => {
    const environment = randomUUID();
    const identity = await sandbox.prepare(environment);
    const script = `
      const net = require('node:net');
      const open = () => new Promise((resolve) => {
        const socket = net.connect(Number(process.argv[1]), '127.0.0.1');
        socket.on('connect', () => resolve('ok')).on('error', (error) => resolve(error.code));
      });
      (async () => {
        const answers = [];
        for (let i = 0; i < 66; i++) answers.push(await open());
        console.log(JSON.stringify(answers));
        process.exit(0);
      })();`;
    try {
      const out = await new Promise<string>((resolve, reject) => {
        const child = spawn(process.execPath, ['-e', script, String(portOf(gateway))], {
          uid: identity.uid,
          gid: identity.gid,
          env: { HOME: identity.home },
          stdio: ['ignore', 'pipe', 'inherit'],
        });
        let text = '';
        child.stdout.on('data', (chunk: Buffer) => (text += chunk.toString()));
        child.once('error', reject);
        child.once('exit', () => resolve(text));
      });
      const answers = JSON.parse(out) as string[];
      expect(answers.slice(0, 64).every((answer) => answer === 'ok')).toBe(true);
      expect(answers.slice(64)).toEqual(['ECONNREFUSED', 'ECONNREFUSED']);
    } finally {
      await sandbox.release(environment);
    }
  });

  it('kills what a worker left running when its sandbox is released', async () => {
    const environment = randomUUID();
    const identity = await sandbox.prepare(environment);
    const leftover = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], {
      uid: identity.uid,
      gid: identity.gid,
      detached: true,
      stdio: 'ignore',
    });
    const exited = new Promise((resolve) => leftover.once('exit', (_code, signal) => resolve(signal)));
    await sandbox.release(environment);
    expect(await exited).toBe('SIGKILL');
    expect(await userExists(sandboxUserName(GATEWAY, environment))).toBe(false);
  });

  it('removes its table and its folders on close', async () => {
    const home = (await sandbox.prepare(randomUUID())).home;
    await sandbox.close();
    await expect(run('nft', ['list', 'table', 'inet', TABLE])).rejects.toThrow();
    await expect(stat(dirname(home))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('removes the unused users an earlier host of the region left behind, and none of another region', async () => {
    const stale = sandboxUserName(GATEWAY, randomUUID());
    const otherRegion = sandboxUserName('zz8', randomUUID());
    await ensureUser(stale);
    await ensureUser(otherRegion);
    const next = createRegionSandbox({
      gateway: GATEWAY,
      temporalAddress: `127.0.0.1:${portOf(temporal)}`,
      gatewayUrl: `http://127.0.0.1:${portOf(gateway)}`,
      log: pino({ level: 'silent' }),
    });
    try {
      await next.start();
      expect(await userExists(stale)).toBe(false);
      expect(await userExists(otherRegion)).toBe(true);
    } finally {
      await next.close();
      await run('userdel', [otherRegion]);
      if (await userExists(stale)) await run('userdel', [stale]);
    }
  });
});
