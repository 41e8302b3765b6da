import { join } from 'node:path';
import { MOTO_VERSION, displayPath, type Report, type StackPaths, type StackPorts } from './config.js';
import { httpOk } from './health.js';
import { ensureManaged, stopByPidFile, type Outcome } from './managed.js';
import { spawnDetached } from './process.js';
import { pythonTool, type PythonTool } from './python-tools.js';

export const motoUrl = (ports: StackPorts): string => `http://127.0.0.1:${ports.moto}`;
export const motoHealthUrl = (ports: StackPorts): string => `${motoUrl(ports)}/moto-api/`;

export function motoHealthy(ports: StackPorts): Promise<boolean> {
  return httpOk(motoHealthUrl(ports));
}

export function ensureMoto(paths: StackPaths, ports: StackPorts, report: Report): Promise<Outcome> {
  const logFile = join(paths.logsDir, 'moto.log');
  return ensureManaged(
    {
      name: 'moto',
      url: motoUrl(ports),
      ports: [{ port: ports.moto, envVar: 'TAVIO_MOTO_PORT' }],
      deadlineMs: 30_000,
      logFiles: [logFile],
      healthy: () => motoHealthy(ports),
      start: async () => {
        const server = await motoServerBinary(paths, report);
        report(
          `moto: starting moto_server ${MOTO_VERSION} on 127.0.0.1:${ports.moto}, log ${displayPath(logFile)}...`,
        );
        return spawnDetached(paths, {
          name: 'moto',
          command: server,
          args: ['-H', '127.0.0.1', '-p', String(ports.moto)],
          logFile,
          env: motoEnv(),
        });
      },
    },
    paths,
    report,
  );
}

/** Accounts stay isolated only when cross-account access is off and no fixed account id is forced. */
function motoEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, MOTO_S3_ALLOW_CROSSACCOUNT_ACCESS: 'false' };
  delete env.MOTO_ACCOUNT_ID;
  return env;
}

const MOTO: PythonTool = {
  requirement: `moto[server]==${MOTO_VERSION}`,
  folder: `moto-${MOTO_VERSION}`,
  command: 'moto_server',
  name: 'moto',
};

const motoServerBinary = (paths: StackPaths, report: Report) => pythonTool(paths, MOTO, report);

export function stopMoto(paths: StackPaths, report: Report): Promise<void> {
  return stopByPidFile(paths, 'moto', 'moto_server', report);
}
