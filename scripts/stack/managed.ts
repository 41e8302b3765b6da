import { StackError, type Report, type StackPaths } from './config.js';
import { portInUse, waitHealthy } from './health.js';
import { commandLineMatches, livePid, readPid, removePid, terminate } from './process.js';

/** `skipped`: a service this machine cannot run (the SFTP server without root). */
export type Outcome = 'started' | 'reused' | 'skipped';

export interface PortClaim {
  port: number;
  envVar: string;
}

export interface ManagedService {
  /** Label in progress lines and name of the pid file. */
  name: string;
  url: string;
  ports: readonly PortClaim[];
  deadlineMs: number;
  logFiles: readonly string[];
  healthy: () => Promise<boolean>;
  /** Prepares and launches the service; resolves with the pid to watch while waiting for health. */
  start: () => Promise<number | undefined>;
}

export async function ensureManaged(
  service: ManagedService,
  paths: StackPaths,
  report: Report,
): Promise<Outcome> {
  report(`${service.name}: checking ${service.url}...`);
  if (await service.healthy()) {
    report(`${service.name}: reused, already healthy at ${service.url}${pidNote(paths, service.name)}`);
    return 'reused';
  }
  const earlier = livePid(paths, service.name);
  if (earlier !== undefined) {
    report(
      `${service.name}: process ${earlier} from an earlier run is not healthy yet, waiting up to ${service.deadlineMs / 1000} s (if it never gets healthy, run \`npm run stack -- down\`)...`,
    );
    await waitHealthy({ ...waitBase(service, report), pid: earlier });
    report(`${service.name}: reused, healthy at ${service.url} (pid ${earlier})`);
    return 'reused';
  }
  await assertPortsFree(service);
  const pid = await service.start();
  report(`${service.name}: waiting for health (up to ${service.deadlineMs / 1000} s)...`);
  try {
    await waitHealthy({ ...waitBase(service, report), pid });
  } catch (error) {
    if (pid !== undefined) await discardFailedStart(paths, service.name, pid);
    throw error;
  }
  report(`${service.name}: up at ${service.url}${pidNote(paths, service.name)}`);
  return 'started';
}

/** A process that never got healthy would only make the next run wait for it again. */
async function discardFailedStart(paths: StackPaths, name: string, pid: number): Promise<void> {
  await terminate(pid, 2_000);
  removePid(paths, name);
}

function waitBase(service: ManagedService, report: Report) {
  return {
    name: service.name,
    check: service.healthy,
    deadlineMs: service.deadlineMs,
    logFiles: service.logFiles,
    report,
  };
}

function pidNote(paths: StackPaths, name: string): string {
  const pid = livePid(paths, name);
  return pid === undefined ? '' : ` (pid ${pid})`;
}

async function assertPortsFree(service: ManagedService): Promise<void> {
  for (const claim of service.ports) {
    if (await portInUse(claim.port)) {
      throw new StackError(
        `${service.name}: port ${claim.port} on 127.0.0.1 is taken by a program that is not a healthy ${service.name}; stop it or choose another port with ${claim.envVar}=<port>`,
      );
    }
  }
}

/** Stops the process named by a pid file, if it is still the program we started. */
export async function stopByPidFile(
  paths: StackPaths,
  name: string,
  expectedCommand: string,
  report: Report,
): Promise<void> {
  const pid = readPid(paths, name);
  if (pid === undefined) {
    report(`${name}: no pid file, nothing to stop`);
    return;
  }
  if (livePid(paths, name) === undefined || !commandLineMatches(pid, expectedCommand)) {
    report(`${name}: pid ${pid} is no longer running, removing its pid file`);
    removePid(paths, name);
    return;
  }
  report(`${name}: stopping pid ${pid} (SIGTERM, SIGKILL after 10 s)...`);
  if (!(await terminate(pid))) throw new StackError(`${name}: pid ${pid} did not stop even after SIGKILL`);
  removePid(paths, name);
  report(`${name}: stopped`);
}
