import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { aptInstall } from './apt.js';
import {
  GATEWAY_PORT_ENV,
  StackError,
  displayPath,
  type GatewayCode,
  type Report,
  type StackPaths,
  type StackPorts,
} from './config.js';
import { httpOk } from './health.js';
import { ensureManaged, stopByPidFile, type Outcome } from './managed.js';
import { motoHealthUrl } from './moto.js';
import { isExecutable, spawnDetached } from './process.js';

const TINYPROXY = '/usr/bin/tinyproxy';

export const gatewayName = (code: GatewayCode): string => `gateway-${code}`;
export const gatewayUrl = (ports: StackPorts, code: GatewayCode): string =>
  `http://127.0.0.1:${ports.gateways[code]}`;

/** A gateway is healthy when it carries a request to moto, so moto must be up first. */
export function gatewayHealthy(ports: StackPorts, code: GatewayCode): Promise<boolean> {
  return httpOk(motoHealthUrl(ports), { host: '127.0.0.1', port: ports.gateways[code] });
}

export function ensureGateway(
  paths: StackPaths,
  ports: StackPorts,
  code: GatewayCode,
  report: Report,
): Promise<Outcome> {
  const name = gatewayName(code);
  const stdoutLog = join(paths.logsDir, `${name}.log`);
  const proxyLog = join(gatewaysDir(paths), `${code}.log`);
  return ensureManaged(
    {
      name,
      url: gatewayUrl(ports, code),
      ports: [{ port: ports.gateways[code], envVar: GATEWAY_PORT_ENV[code] }],
      deadlineMs: 30_000,
      logFiles: [stdoutLog, proxyLog],
      healthy: () => gatewayHealthy(ports, code),
      start: async () => {
        await ensureTinyproxy(report);
        const config = writeConfig(paths, ports, code);
        report(
          `${name}: starting tinyproxy on 127.0.0.1:${ports.gateways[code]} (config ${displayPath(config)}, log ${displayPath(proxyLog)})...`,
        );
        return spawnDetached(paths, {
          name,
          command: TINYPROXY,
          args: ['-d', '-c', config],
          logFile: stdoutLog,
        });
      },
    },
    paths,
    report,
  );
}

const gatewaysDir = (paths: StackPaths): string => join(paths.stackDir, 'gateways');

function writeConfig(paths: StackPaths, ports: StackPorts, code: GatewayCode): string {
  const dir = gatewaysDir(paths);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = join(dir, `${code}.conf`);
  const lines = [
    `Port ${ports.gateways[code]}`,
    'Listen 127.0.0.1',
    'Timeout 60',
    `LogFile "${join(dir, `${code}.log`)}"`,
    'LogLevel Connect',
    `PidFile "${join(dir, `${code}.pid`)}"`,
    'Allow 127.0.0.1',
    'MaxClients 100',
  ];
  writeFileSync(file, `${lines.join('\n')}\n`, { mode: 0o600 });
  return file;
}

async function ensureTinyproxy(report: Report): Promise<void> {
  if (isExecutable(TINYPROXY)) return;
  await aptInstall('tinyproxy-bin', `tinyproxy (${TINYPROXY})`, report);
  if (!isExecutable(TINYPROXY))
    throw new StackError(`tinyproxy-bin was installed but ${TINYPROXY} is still missing`);
}

export function stopGateway(paths: StackPaths, code: GatewayCode, report: Report): Promise<void> {
  return stopByPidFile(paths, gatewayName(code), 'tinyproxy', report);
}
