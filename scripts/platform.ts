import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { loadControlApiConfig } from '../common/config.js';
import { loggerOptions } from '../common/telemetry/logging.js';
import { REGION_CODES } from '../common/regions.js';
import { GATEWAY_OF } from '../common/gateways.js';
import type { RegionCode } from '../common/regions.js';
import { startControlApi } from '../control-api/platform.js';
import type { ControlApi } from '../control-api/platform.js';
import { createTavioClient } from '../control-api/client.js';
import type { TavioClient } from '../control-api/client.js';
import { inArray } from 'drizzle-orm';
import { apiKeys } from '../db/schema.js';
import { FIXTURE_NETWORK } from '../fixtures/serve.js';
import { generateKey, parseKey } from '../control-api/keys.js';
import type { StackInfo } from './stack/services.js';
import { writeGatewayControl } from './stack/gateways.js';
import { stackTemporalEnv } from './stack/temporal.js';

/** The region host's entry: from the sources through tsx, or from `npm run build` on plain node. */
const HOST_ENTRY = {
  sources: ['--import', 'tsx', fileURLToPath(new URL('../workers/region-host.ts', import.meta.url))],
  build: [fileURLToPath(new URL('../dist/workers/region-host.js', import.meta.url))],
};

/** The environment variables that point the control API at a running stack. */
export function stackEnv(stack: StackInfo): Record<string, string> {
  return {
    ...servicesEnv(stack),
    TAVIO_DATABASE_URL: stack.databaseUrl,
    TAVIO_DATABASE_MIGRATION_URL: stack.databaseMigrationUrl,
  };
}

/** What every Tavio process needs from the stack; the data plane never gets the control database. */
function servicesEnv(stack: StackInfo): Record<string, string> {
  return {
    // An outside Temporal's TLS, key and profile; the stack's own server needs none.
    ...stackTemporalEnv(),
    TEMPORAL_ADDRESS: stack.temporalAddress,
    TAVIO_TEMPORAL_UI_URL: stack.webUiUrl,
    TAVIO_TEMPORAL_UI_UPSTREAM: stack.temporalUiUrl,
    TAVIO_AWS_ENDPOINT: stack.awsEndpoint,
    TAVIO_ACCOUNT_FACTORY: 'emulator-pool',
    TAVIO_ACCOUNT_POOL_FILE: stack.accountPoolFile,
    TAVIO_GATEWAY_US1_URL: stack.gateways.us1,
    TAVIO_GATEWAY_CA1_URL: stack.gateways.ca1,
    TAVIO_GATEWAY_EU1_URL: stack.gateways.eu1,
    TAVIO_GATEWAY_US1_LOG: stack.gatewayFiles.us1.accessLog,
    TAVIO_GATEWAY_CA1_LOG: stack.gatewayFiles.ca1.accessLog,
    TAVIO_GATEWAY_EU1_LOG: stack.gatewayFiles.eu1.accessLog,
    // The fixture HRIS and destinations listen here; the platform itself stays on 127.0.0.1.
    TAVIO_CUSTOMER_NETWORKS: FIXTURE_NETWORK,
    AWS_ACCESS_KEY_ID: stack.awsIdentities.controlPlane.accessKeyId,
    AWS_SECRET_ACCESS_KEY: stack.awsIdentities.controlPlane.secretAccessKey,
  };
}

/** A region host signs as its gateway's host identity, never as the control plane. */
function hostEnv(stack: StackInfo, region: RegionCode): Record<string, string> {
  const key = stack.awsIdentities.hosts[GATEWAY_OF[region]];
  return {
    ...servicesEnv(stack),
    AWS_ACCESS_KEY_ID: key.accessKeyId,
    AWS_SECRET_ACCESS_KEY: key.secretAccessKey,
    TAVIO_GATEWAY_PASSWD_FILE: stack.gatewayFiles[GATEWAY_OF[region]].passwd,
  };
}

export interface RegionHostProcess {
  region: RegionCode;
  process: ChildProcess;
  stop(): Promise<void>;
}

/** Starts a region's worker host as its own process, holding only a host key for that region. */
export function startRegionHost(
  stack: StackInfo,
  controlApiUrl: string,
  region: RegionCode,
  hostKey: string,
  extraEnv: Record<string, string> = {},
  entry: keyof typeof HOST_ENTRY = 'sources',
): RegionHostProcess {
  const child = spawn(process.execPath, HOST_ENTRY[entry], {
    env: {
      PATH: process.env.PATH ?? '',
      ...hostEnv(stack, region),
      TAVIO_REGION: region,
      TAVIO_HOST_KEY: hostKey,
      TAVIO_CONTROL_API_URL: controlApiUrl,
      TAVIO_HOST_ID: `${region}-host`,
      TAVIO_LOG_LEVEL: 'error',
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      // OpenTelemetry's standard variables reach the hosts as they are: set, they trace.
      ...Object.fromEntries(Object.entries(process.env).filter(([name]) => name.startsWith('OTEL_'))),
      ...extraEnv,
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  return {
    region,
    process: child,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

/**
 * A region of the platform: a host key for it, its gateway told to ask the control API at
 * `controlApiUrl` with that key, and its region host started with it (from the sources or the build).
 */
export async function startRegion(
  stack: StackInfo,
  operator: TavioClient,
  controlApiUrl: string,
  region: RegionCode,
  extraEnv: Record<string, string> = {},
  entry: keyof typeof HOST_ENTRY = 'sources',
): Promise<RegionHostProcess & { hostKey: { id: string; prefix: string } }> {
  const hostKey = await operator.createHostKey(region);
  // The region's gateway asks the control API, as that region, what its environments may reach.
  writeGatewayControl(stack.gatewayFiles[GATEWAY_OF[region]].control, {
    controlApiUrl,
    region,
    key: hostKey.key,
  });
  const host = startRegionHost(stack, controlApiUrl, region, hostKey.key, extraEnv, entry);
  return { ...host, hostKey: { id: hostKey.id, prefix: hostKey.prefix } };
}

export interface Platform {
  api: ControlApi;
  operatorKey: string;
  operator: TavioClient;
  hosts: RegionHostProcess[];
  stop(): Promise<void>;
}

/** The control API (in this process) and one worker host per region (each its own process). */
export async function startPlatform(
  stack: StackInfo,
  options: {
    /** The control API's port; the stack's, where Temporal reads the token keys, by default. */
    port?: number;
    /** The Web UI gateway's port; the stack's published UI port by default. */
    webUiPort?: number;
    regions?: readonly RegionCode[];
    hostEnv?: Record<string, string>;
    /** Settings of the control API beyond the stack's (for example short webhook retries for tests). */
    apiEnv?: Record<string, string>;
    /** Each region host's metrics port (`TAVIO_HOST_METRICS_PORT`); none by default. */
    hostMetricsPorts?: Partial<Record<RegionCode, number>>;
    /** Writes the control API's log (warnings and errors, with request ids) to stdout. */
    apiLogs?: boolean;
  } = {},
): Promise<Platform> {
  const operatorKey = generateKey('operator').key;
  const config = loadControlApiConfig({
    ...stackEnv(stack),
    TAVIO_API_PORT: String(options.port ?? new URL(stack.controlApiUrl).port),
    TAVIO_WEB_UI_PORT: String(options.webUiPort ?? new URL(stack.webUiUrl).port),
    TAVIO_OPERATOR_KEY: operatorKey,
    TAVIO_LOG_LEVEL: 'warn',
    ...options.apiEnv,
  });
  const api = await startControlApi(config, options.apiLogs ? loggerOptions(config.logLevel) : false);
  await api.trusted;
  const operator = createTavioClient({ baseUrl: api.url, apiKey: operatorKey });
  const hosts: RegionHostProcess[] = [];
  const hostKeyPrefixes: string[] = [];
  for (const region of options.regions ?? REGION_CODES) {
    const metricsPort = options.hostMetricsPorts?.[region];
    const host = await startRegion(stack, operator, api.url, region, {
      ...options.hostEnv,
      ...(metricsPort !== undefined && { TAVIO_HOST_METRICS_PORT: String(metricsPort) }),
    });
    hostKeyPrefixes.push(host.hostKey.prefix);
    hosts.push(host);
  }
  return {
    api,
    operatorKey,
    operator,
    hosts,
    async stop() {
      await Promise.all(hosts.map((host) => host.stop()));
      // The keys this platform issued itself die with it.
      await api.db
        .update(apiKeys)
        .set({ revokedAt: new Date() })
        .where(inArray(apiKeys.prefix, [parseKey(operatorKey)!.prefix, ...hostKeyPrefixes]));
      await api.close();
    },
  };
}
