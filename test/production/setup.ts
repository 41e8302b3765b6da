import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { fileURLToPath } from 'node:url';
import 'vitest';
import type { TestProject } from 'vitest/node';
import { generateKey, parseKey } from '../../control-api/keys.js';
import { createTavioClient } from '../../control-api/client.js';
import { startRegion, stackEnv } from '../../scripts/platform.js';
import { waitFor } from '../../scripts/processes.js';
import { stackUp } from '../../scripts/stack/services.js';
import { TEST_API_METRICS_PORT, TEST_HOST_METRICS_PORTS } from '../support/metrics-ports.js';
import { TEST_WORKER_IDLE_MS } from '../support/worker-idle.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The control API process started from the build. */
    apiPid: number;
    /** Where that process's standard output (its JSON log) is written. */
    apiLogFile: string;
  }
}

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const API_LOG = `${ROOT}.stack/production-api.log`;

/** Runs a command of the build to its end, its output shown as it comes. */
function run(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: ROOT, env, stdio: ['ignore', 'inherit', 'inherit'] });
    child.once('error', reject);
    child.once('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`${command} ${args.join(' ')} exited with ${code}`)),
    );
  });
}

function stopped(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => {
    child.once('exit', (code) => resolve(code));
    child.kill('SIGTERM');
  });
}

/**
 * The platform as a deployment runs it: `npm run build`, the migrate command, then the control API
 * and the eu region host on plain node from dist/, configured by environment variables only (no
 * tsx, no migrations at API start). Provides what the integration tests' setup provides, so the
 * same scenario helpers drive it.
 */
export default async function setup(project: TestProject) {
  const stack = await stackUp({ quiet: true });
  const base = { PATH: process.env.PATH ?? '', AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' };
  process.stderr.write('production: npm run build\n');
  await run('npm', ['run', '--silent', 'build'], { ...process.env });
  const apiEnv = {
    ...base,
    ...stackEnv(stack),
    NODE_ENV: 'production',
    TAVIO_API_PORT: new URL(stack.controlApiUrl).port,
    TAVIO_WEB_UI_PORT: '',
    TAVIO_MIGRATE_ON_START: 'false',
    TAVIO_LOG_LEVEL: 'info',
    TAVIO_METRICS_PORT: String(TEST_API_METRICS_PORT),
  };
  process.stderr.write('production: node dist/scripts/migrate.js\n');
  await run(process.execPath, ['dist/scripts/migrate.js'], apiEnv);

  const operatorKey = generateKey('operator').key;
  process.stderr.write('production: node dist/control-api/server.js\n');
  const api = spawn(process.execPath, ['dist/control-api/server.js'], {
    cwd: ROOT,
    env: { ...apiEnv, TAVIO_OPERATOR_KEY: operatorKey },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  api.stdout.pipe(createWriteStream(API_LOG));
  const controlApiUrl = stack.controlApiUrl;
  await waitFor(
    'the control API from the build to be ready',
    async () => {
      if (api.exitCode !== null) throw new Error(`the control API exited with ${api.exitCode}`);
      const response = await fetch(`${controlApiUrl}/readyz`).catch(() => undefined);
      return response?.status === 200 || undefined;
    },
    90_000,
  );
  const operator = createTavioClient({ baseUrl: controlApiUrl, apiKey: operatorKey });
  process.stderr.write('production: node dist/workers/region-host.js (eu)\n');
  const host = await startRegion(
    stack,
    operator,
    controlApiUrl,
    'eu',
    {
      TAVIO_WORKER_IDLE_MS: String(TEST_WORKER_IDLE_MS),
      TAVIO_LOG_LEVEL: 'info',
      TAVIO_HOST_METRICS_PORT: String(TEST_HOST_METRICS_PORTS.eu),
      NODE_ENV: 'production',
    },
    'build',
  );

  project.provide('stack', stack);
  project.provide('controlApiUrl', controlApiUrl);
  project.provide('operatorKey', operatorKey);
  project.provide('webUiUrl', '');
  project.provide('hostPids', { eu: host.process.pid ?? 0 });
  project.provide('apiPid', api.pid ?? 0);
  project.provide('apiLogFile', API_LOG);
  return async () => {
    await host.stop();
    // The keys this setup issued die with it; the operator key last, since it revokes the others.
    const own = parseKey(operatorKey)!.prefix;
    const operatorKeyId = (await operator.listPlatformKeys('operator')).find((key) => key.prefix === own)?.id;
    await operator.revokePlatformKey(host.hostKey.id);
    if (operatorKeyId) await operator.revokePlatformKey(operatorKeyId);
    await stopped(api);
  };
}
