import { join } from 'node:path';
import {
  MOTO_VERSION,
  StackError,
  displayPath,
  type Report,
  type StackPaths,
  type StackPorts,
} from './config.js';
import { httpOk } from './health.js';
import { ensureManaged, stopByPidFile, type Outcome } from './managed.js';
import { findOnPath, isExecutable, runOrFail, spawnDetached } from './process.js';

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

async function motoServerBinary(paths: StackPaths, report: Report): Promise<string> {
  const venv = join(paths.cacheDir, `moto-${MOTO_VERSION}`);
  const server = join(venv, 'bin', 'moto_server');
  if (isExecutable(server)) return server;
  const logFile = join(paths.logsDir, 'moto-install.log');
  if (!isExecutable(join(venv, 'bin', 'pip'))) {
    const python = findOnPath('python3');
    if (python === undefined) {
      throw new StackError(
        'moto: python3 not found; install Python 3 with venv support (Debian: sudo apt-get install -y python3 python3-venv) and run this again',
      );
    }
    report(`moto: creating a Python virtualenv in ${venv}...`);
    await runOrFail(
      'moto: python3 -m venv (on Debian this needs the python3-venv package)',
      python,
      ['-m', 'venv', venv],
      { logFile },
    );
  }
  report(
    `moto: installing moto[server]==${MOTO_VERSION} from PyPI into ${venv} (about a minute, log ${displayPath(logFile)})...`,
  );
  await runOrFail(
    'moto: pip install',
    join(venv, 'bin', 'pip'),
    ['install', `moto[server]==${MOTO_VERSION}`],
    { logFile },
  );
  if (!isExecutable(server))
    throw new StackError(`moto: pip install finished but ${server} is missing; see ${logFile}`);
  return server;
}

export function stopMoto(paths: StackPaths, report: Report): Promise<void> {
  return stopByPidFile(paths, 'moto', 'moto_server', report);
}
