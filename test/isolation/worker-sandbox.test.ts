import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { environmentWorkerPid, waitFor } from '../../scripts/processes.js';
import { newEnvironment, runRequest } from '../support/scenario.js';
import type { EnvScenario } from '../support/scenario.js';

/**
 * A real environment worker, started by its region host, is a sandboxed tenant: the kernel
 * refuses what its code might try. Each probe runs as the worker's own OS user, so the same
 * kernel rules hold for it as for the worker.
 */

let a: EnvScenario;
let b: EnvScenario;
let workerA: number;
let workerB: number;
let identity: { uid: number; gid: number };

const idsOf = (pid: number) => {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(status)![1]);
  return { uid: field('Uid'), gid: field('Gid') };
};

/** Runs a Node snippet as the worker's user; answers what it printed. */
function asWorker(code: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', code], {
      uid: identity.uid,
      gid: identity.gid,
      env: { PATH: '/usr/bin:/bin' },
      cwd: '/',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.on('error', reject);
    child.on('close', () => resolve(out.trim()));
  });
}

/** What a TCP connect from the worker's user to host:port gives: `connected` or the error code. */
const connectFrom = (host: string, port: number) =>
  asWorker(
    `const s=require('net').connect(${port},${JSON.stringify(host)});` +
      `const done=(what)=>{console.log(what);process.exit()};` +
      `s.on('connect',()=>done('connected'));s.on('error',(e)=>done(e.code));setTimeout(()=>done('timeout'),3000)`,
  );

/** What reading a file as the worker's user gives: `read` or the error code. */
const readFrom = (path: string) =>
  asWorker(
    `try{require('fs').readFileSync(${JSON.stringify(path)});console.log('read')}catch(e){console.log(e.code)}`,
  );

/** The ports the Temporal server process listens on besides its published frontend (7233). */
function temporalInternalPorts(): number[] {
  const listening = execFileSync('ss', ['-ltnpH'], { encoding: 'utf8' }).split('\n');
  const server = /pid=(\d+)/.exec(listening.find((line) => line.includes('127.0.0.1:7233 ')) ?? '')?.[1];
  return listening
    .filter((line) => server !== undefined && line.includes(`pid=${server},`))
    .map((line) => Number(/127\.0\.0\.1:(\d+)/.exec(line)?.[1]))
    .filter((port) => port > 0 && port !== 7233);
}

/** Runs that keep a's and b's workers busy (their hosts run workers only while there is work). */
const slowRuns: string[] = [];

beforeAll(async () => {
  [a, b] = await Promise.all([
    newEnvironment('us', { employees: 2000, rateLimitEvery: 2 }),
    newEnvironment('us', { employees: 2000, rateLimitEvery: 2 }),
  ]);
  for (const s of [a, b])
    slowRuns.push(
      (
        await s.client.createRun(
          s.org,
          s.env,
          runRequest(s, { options: { pageSize: 20, pagesPerExecution: 50 } }),
        )
      ).id,
    );
  workerA = await waitFor('the worker of a', () => environmentWorkerPid(a.environment.namespace), 60_000);
  workerB = await waitFor('the worker of b', () => environmentWorkerPid(b.environment.namespace), 60_000);
  identity = idsOf(workerA);
  // The worker sets its umask once its modules are loaded, before it opens anything.
  await waitFor(
    'the worker to be loaded',
    () => /^Umask:\s+0077$/m.test(readFileSync(`/proc/${workerA}/status`, 'utf8')) || undefined,
    60_000,
  );
}, 120_000);

afterAll(async () => {
  await Promise.all(
    [a, b].map(async (s, i) => {
      if (!s) return;
      if (slowRuns[i]) await s.client.cancelRun(s.org, s.env, slowRuns[i]).catch(() => undefined);
      await s.close();
    }),
  );
});

describe('an environment worker', () => {
  it('runs as an unprivileged OS user of its own, another than its neighbour and its host', () => {
    expect(identity.uid).not.toBe(0);
    expect(idsOf(workerB).uid).not.toBe(identity.uid);
    const status = readFileSync(`/proc/${workerA}/status`, 'utf8');
    expect(/^Groups:(.*)$/m.exec(status)?.[1]?.trim()).toBe('');
    expect(/^Umask:\s+(\d+)$/m.exec(status)?.[1]).toBe('0077');
    // Nothing of its host's environment: its own settings, a private HOME and TMPDIR.
    const env = readFileSync(`/proc/${workerA}/environ`, 'utf8').split('\0').filter(Boolean);
    const names = env.map((entry) => entry.slice(0, entry.indexOf('=')));
    expect(names.filter((name) => /AWS_(ACCESS|SECRET|SESSION)|TOKEN|KEY|PASSWORD/.test(name))).toEqual([]);
  });

  it("reaches the Temporal frontend and its region's gateway", async () => {
    expect(await connectFrom('127.0.0.1', 7233)).toBe('connected');
    expect(await connectFrom('127.0.0.1', Number(new URL(inject('stack').gateways.us1).port))).toBe(
      'connected',
    );
  });

  it.each([
    ['the control API', () => Number(new URL(inject('controlApiUrl')).port)],
    ['the control database', () => Number(new URL(inject('stack').databaseUrl).port)],
    ['the S3/KMS service directly', () => Number(new URL(inject('stack').awsEndpoint).port)],
    ["another region's gateway", () => Number(new URL(inject('stack').gateways.eu1).port)],
    ['the Web UI', () => Number(new URL(inject('stack').temporalUiUrl).port)],
  ])('is refused %s by the kernel (ECONNREFUSED)', async (_what, port) => {
    expect(await connectFrom('127.0.0.1', port())).toBe('ECONNREFUSED');
  });

  it("is refused Temporal's internal ports by the kernel, which authenticate nobody", async () => {
    const ports = temporalInternalPorts();
    expect(ports.length).toBeGreaterThan(0);
    for (const port of ports)
      expect([port, await connectFrom('127.0.0.1', port)]).toEqual([port, 'ECONNREFUSED']);
  });

  it('is refused a fixture customer system directly: everything leaves through the gateway', async () => {
    const source = new URL(a.source.url);
    expect(await connectFrom(source.hostname, Number(source.port))).toBe('ECONNREFUSED');
  });

  it("cannot read another worker's environment, the stack's secrets or write its code", async () => {
    expect(await readFrom(`/proc/${workerB}/environ`)).toBe('EACCES');
    expect(await readFrom(join(process.cwd(), '.stack', 'aws-identities.json'))).toBe('EACCES');
    expect(await readFrom(join(process.cwd(), '.stack', 'postgres-credentials.json'))).toBe('EACCES');
    const settings = readFileSync(`/proc/${workerA}/environ`, 'utf8')
      .split('\0')
      .find((entry) => entry.startsWith('TAVIO_ENVIRONMENT_WORKER='))!;
    const bundle = (JSON.parse(settings.slice(settings.indexOf('=') + 1)) as { workflowBundlePath: string })
      .workflowBundlePath;
    expect(await readFrom(bundle)).toBe('read');
    // The compiled worker it runs, on plain node.
    const [node, ...args] = readFileSync(`/proc/${workerA}/cmdline`, 'utf8').split('\0');
    expect(node).toBe(process.execPath);
    const entry = args.find((arg) => arg.endsWith('.mjs'));
    expect(entry).toMatch(/\.build\/host-[^/]+\/environment-worker\.mjs$/);
    for (const file of [bundle, entry!]) {
      expect(await readFrom(file)).toBe('read');
      expect(
        await asWorker(
          `try{require('fs').appendFileSync(${JSON.stringify(file)},'x');console.log('written')}catch(e){console.log(e.code)}`,
        ),
      ).toBe('EACCES');
    }
    expect(
      await asWorker(
        `try{require('fs').writeFileSync(${JSON.stringify(join(process.cwd(), 'package.json'))},'x');console.log('written')}catch(e){console.log(e.code)}`,
      ),
    ).toBe('EACCES');
  });
});

describe('an environment worker that cannot be sandboxed', () => {
  it('is not started, and its run says why in waitingFor; it runs once the sandbox can be made', async () => {
    const s = await newEnvironment('us', { employees: 20 });
    try {
      const namespace = s.environment.namespace;
      // Without work the environment has no worker yet, and so no OS user: a group of the user's
      // name, made now, blocks the user its first run needs.
      const osUser = `tv-us1-${s.environment.id.replaceAll('-', '').slice(0, 16)}`;
      expect(readFileSync('/etc/passwd', 'utf8')).not.toContain(`${osUser}:`);
      execFileSync('groupadd', [osUser]);
      let runId: string | undefined;
      try {
        runId = (await s.client.createRun(s.org, s.env, runRequest(s))).id;
        const waiting = await waitFor(
          'the run to say why',
          async () => {
            const current = await s.client.getRun(s.org, s.env, runId!);
            return current.waitingFor?.includes('cannot start it') ? current : undefined;
          },
          60_000,
        );
        expect(waiting.waitingFor).toContain(`its region host cannot start it: OS user ${osUser}`);
        expect(environmentWorkerPid(namespace)).toBeUndefined();
      } finally {
        execFileSync('groupdel', [osUser]);
      }
      const done = await s.client.waitForRun(s.org, s.env, runId!, { timeoutMs: 120_000 });
      expect(done).toMatchObject({ status: 'completed', waitingFor: null });
    } finally {
      await s.close();
    }
  }, 240_000);
});
