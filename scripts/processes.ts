import { readdirSync, readFileSync } from 'node:fs';

/** The environment variables a process was started with. */
export function processEnv(pid: number): Record<string, string> {
  const raw = readFileSync(`/proc/${pid}/environ`, 'utf8');
  return Object.fromEntries(
    raw
      .split('\0')
      .filter(Boolean)
      .map((entry) => [entry.slice(0, entry.indexOf('=')), entry.slice(entry.indexOf('=') + 1)]),
  );
}

/** The pid of the environment worker process serving a namespace, if one runs. */
export function environmentWorkerPid(namespace: string): number | undefined {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const settings = processEnv(Number(entry)).TAVIO_ENVIRONMENT_WORKER;
      if (settings && (JSON.parse(settings) as { namespace: string }).namespace === namespace)
        return Number(entry);
    } catch {
      // The process ended while being read, or belongs to someone else.
    }
  }
  return undefined;
}

export async function waitFor<T>(
  what: string,
  probe: () => T | undefined | Promise<T | undefined>,
  timeoutMs = 60_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** The pid of the region host serving `region` for the control API at `controlApiUrl`, if one runs. */
export function regionHostPid(region: string, controlApiUrl: string): number | undefined {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (!/region-host\.[jt]s/.test(readFileSync(`/proc/${entry}/cmdline`, 'utf8'))) continue;
      const env = processEnv(Number(entry));
      if (env.TAVIO_REGION === region && env.TAVIO_CONTROL_API_URL === controlApiUrl) return Number(entry);
    } catch {
      // The process ended while being read.
    }
  }
  return undefined;
}

/** True once a process has exited: gone from /proc, or a zombie its parent has not reaped yet. */
export function processExited(pid: number): boolean {
  try {
    return /^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return true;
  }
}

/** A memory figure of a process's /proc status (VmRSS, VmHWM...), in MiB. */
function statusMiB(pid: number, field: string): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${field}:`));
  return Math.round(Number(line?.replace(/\D+/g, '') ?? 0) / 1024);
}

/** A process's resident memory, in MiB. */
export const rssMiB = (pid: number): number => statusMiB(pid, 'VmRSS');

/** The most resident memory a process has had since it started, in MiB. */
export const peakRssMiB = (pid: number): number => statusMiB(pid, 'VmHWM');
