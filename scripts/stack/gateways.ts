import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FIXTURE_NETWORK } from '../../fixtures/serve.js';
import { ensureExecutable } from './apt.js';
import {
  GATEWAY_PORT_ENV,
  StackError,
  displayPath,
  type GatewayCode,
  type Report,
  type StackPaths,
  type StackPorts,
} from './config.js';
import { freePort, httpAnswer } from './health.js';
import { ensureManaged, stopByPidFile, type Outcome } from './managed.js';
import { findOnPath, isRoot, runCommand, spawnDetached } from './process.js';
import { GATEWAY_REFUSALS, refusalPage, squidConfig, squidFiles } from './squid.js';
import { GATEWAY_USER, gatewaysDir } from './private-files.js';

export const SQUID = '/usr/sbin/squid';
/** The platform's own addresses locally: the stack's services all listen on 127.0.0.1. */
const PLATFORM_NETWORKS = ['127.0.0.1/32', '::1/128'];

export const gatewayName = (code: GatewayCode): string => `gateway-${code}`;
export const gatewayUrl = (ports: StackPorts, code: GatewayCode): string =>
  `http://127.0.0.1:${ports.gateways[code]}`;
export const gatewayDir = (paths: StackPaths, code: GatewayCode): string => join(gatewaysDir(paths), code);

/** The files a region's gateway shares with the platform: who may authenticate, how to ask the control API, its log. */
export function gatewayFiles(paths: StackPaths, code: GatewayCode) {
  const files = squidFiles(gatewayDir(paths, code));
  return { passwd: files.passwd, control: files.control, accessLog: files.accessLog };
}

/**
 * A gateway is healthy when it is this stack's gateway of that region: it asks for proxy
 * credentials in its own realm (any other proxy on the port is not reused). It needs nothing
 * else, so it starts before moto and the platform.
 */
export function gatewayHealthy(ports: StackPorts, code: GatewayCode): Promise<boolean> {
  return gatewayAnswers(ports.gateways[code], code);
}

/** The gateway refuses before it connects anywhere, so the probe's destination does not matter. */
async function gatewayAnswers(port: number, code: GatewayCode): Promise<boolean> {
  const answer = await httpAnswer('http://127.0.0.1:9/', { host: '127.0.0.1', port });
  const challenge = answer?.headers['proxy-authenticate'];
  return answer?.status === 407 && String(challenge).includes(`"tavio-gateway-${code}"`);
}

export function ensureGateway(
  paths: StackPaths,
  ports: StackPorts,
  code: GatewayCode,
  report: Report,
): Promise<Outcome> {
  const name = gatewayName(code);
  const stdoutLog = join(paths.logsDir, `${name}.log`);
  const dir = gatewayDir(paths, code);
  const files = squidFiles(dir);
  return ensureManaged(
    {
      name,
      url: gatewayUrl(ports, code),
      ports: [{ port: ports.gateways[code], envVar: GATEWAY_PORT_ENV[code] }],
      deadlineMs: 30_000,
      logFiles: [stdoutLog, files.cacheLog],
      healthy: () => gatewayHealthy(ports, code),
      start: async () => {
        await ensureSquid(report);
        writeGatewayFiles(dir, ports.gateways[code], code);
        report(
          `${name}: starting squid on 127.0.0.1:${ports.gateways[code]} (config ${displayPath(files.config)}, log ${displayPath(files.accessLog)})...`,
        );
        return spawnDetached(paths, {
          name,
          command: SQUID,
          args: ['-N', '-f', files.config],
          logFile: stdoutLog,
        });
      },
    },
    paths,
    report,
  );
}

/** The helper runs under the gateway's own user, from any folder: its loader is named by path. */
function helperCommand(): string[] {
  const tsx = dirname(createRequire(import.meta.url).resolve('tsx/package.json'));
  const loader = join(tsx, 'dist', 'loader.mjs');
  const script = fileURLToPath(new URL('../../gateway/egress-acl.ts', import.meta.url));
  return [process.execPath, '--import', `file://${loader}`, script];
}

/** Writes a gateway's configuration and refusal pages into its folder, owned by the gateway's OS user. */
export function writeGatewayFiles(dir: string, port: number, code: GatewayCode): void {
  const files = squidFiles(dir);
  rmSync(files.errors, { recursive: true, force: true });
  mkdirSync(files.errors, { recursive: true, mode: 0o700 });
  for (const page of Object.keys(GATEWAY_REFUSALS) as (keyof typeof GATEWAY_REFUSALS)[])
    writeFileSync(join(files.errors, page), refusalPage(page), { mode: 0o600 });
  writeFileSync(
    files.config,
    squidConfig({
      code,
      port,
      dir,
      helper: helperCommand(),
      platformNetworks: PLATFORM_NETWORKS,
      customerNetworks: [FIXTURE_NETWORK],
    }),
    { mode: 0o600 },
  );
  // Region hosts own the password file's entries; a restarted gateway keeps them.
  if (!existsSync(files.passwd)) writeFileSync(files.passwd, '', { mode: 0o600 });
  if (isRoot()) {
    for (const path of [dir, files.errors, files.config, files.passwd, ...pagesOf(files.errors)])
      chownSync(path, GATEWAY_USER.uid(), GATEWAY_USER.gid());
  }
}

const pagesOf = (errors: string): string[] => Object.keys(GATEWAY_REFUSALS).map((page) => join(errors, page));

async function ensureSquid(report: Report): Promise<void> {
  if ((await ensureExecutable(SQUID, 'squid', 'Squid, the egress gateways', report)) === 'reused') return;
  // The package may start a system-wide squid of its own; the stack runs one per region instead.
  if (findOnPath('systemctl') !== undefined) await runCommand('systemctl', ['disable', '--now', 'squid']);
}

/** How a gateway's ACL helper reaches the control API: as its region, with that region's host key. */
export interface GatewayControl {
  controlApiUrl: string;
  region: string;
  key: string;
}

/** Written for the gateway's own OS user (the owner of its folder), readable by nobody else. */
export function writeGatewayControl(file: string, control: GatewayControl): void {
  const owner = statSync(dirname(file));
  writeFileSync(file, JSON.stringify(control), { mode: 0o600 });
  chmodSync(file, 0o600);
  if (isRoot()) chownSync(file, owner.uid, owner.gid);
}

/**
 * A gateway of its own, with the stack's configuration for region `code`, on a free port, in a
 * fresh temporary folder: tests and benchmarks use it to hold proxy credentials of their own.
 */
export async function startGatewayInstance(code: GatewayCode, control: GatewayControl) {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), `tavio-gateway-${code}-`));
  const files = squidFiles(dir);
  writeGatewayFiles(dir, port, code);
  writeGatewayControl(files.control, control);
  const child = spawn(SQUID, ['-N', '-f', files.config], { stdio: 'ignore' });
  for (let waited = 0; !(await gatewayAnswers(port, code)); waited += 100) {
    if (waited > 20_000 || child.exitCode !== null)
      throw new StackError(`gateway ${code} on ${port} did not start; see ${files.cacheLog}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    url: `http://127.0.0.1:${port}`,
    files,
    stop() {
      child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function stopGateway(paths: StackPaths, code: GatewayCode, report: Report): Promise<void> {
  return stopByPidFile(paths, gatewayName(code), 'squid', report);
}
