import { NativeConnection, Runtime, Worker, DefaultLogger } from '@temporalio/worker';
import { loadEnvironmentWorkerSettings } from '../common/config.js';
import { GATEWAY_OF } from '../common/gateways.js';
import { activityEnvironmentGuard, assertOwnNamespace } from './environment-guard.js';
import { guardedDataConverter } from '../common/payload-guard.js';
import { createEnvironmentAws } from '../activities/aws.js';
import { createGatewayHttp } from '../activities/http.js';
import { createCredentialOpener } from '../activities/credentials.js';
import { createHrisSyncActivities } from '../activities/hris-sync.js';
import { activityPayloadGuard } from './activity-guard.js';
import type { DataplaneCredentials } from './dataplane-credentials.js';

/** Environment worker: one OS process per environment, started by its region's host. */

import { CREDENTIALS_VAR } from './worker-protocol.js';

const TEMPORAL_LOG_LEVEL = {
  fatal: 'ERROR',
  error: 'ERROR',
  warn: 'WARN',
  info: 'INFO',
  debug: 'DEBUG',
  trace: 'TRACE',
  silent: 'ERROR',
} as const;

async function main(): Promise<void> {
  const settings = loadEnvironmentWorkerSettings();
  assertOwnNamespace(settings);
  let current = JSON.parse(process.env[CREDENTIALS_VAR] ?? 'null') as DataplaneCredentials | null;
  if (!current) throw new Error(`${CREDENTIALS_VAR} is not set`);
  delete process.env[CREDENTIALS_VAR];
  // The host sends fresh credentials before the current ones expire.
  process.on('message', (message: { credentials?: DataplaneCredentials }) => {
    if (message.credentials) current = message.credentials;
  });

  Runtime.install({ logger: new DefaultLogger(TEMPORAL_LOG_LEVEL[settings.logLevel]) });
  const aws = createEnvironmentAws({
    awsRegion: settings.awsRegion,
    endpoint: settings.awsEndpoint,
    gatewayUrl: settings.gatewayUrl,
    credentials: async () => ({ ...current!, expiration: new Date(current!.expiration) }),
  });
  const gateway = GATEWAY_OF[settings.region];
  const http = createGatewayHttp(settings.gatewayUrl, gateway);
  const credentials = createCredentialOpener({ aws, ...settings, gateway });
  const connection = await NativeConnection.connect({ address: settings.temporalAddress });
  const worker = await Worker.create({
    connection,
    namespace: settings.namespace,
    taskQueue: settings.taskQueue,
    identity: `${settings.hostId}/${settings.namespace}/${process.pid}`,
    workflowBundle: { codePath: settings.workflowBundlePath },
    activities: createHrisSyncActivities({ http, credentials }),
    interceptors: {
      activity: [activityEnvironmentGuard(settings), activityPayloadGuard(settings.payloadLimitBytes)],
    },
    dataConverter: guardedDataConverter(settings.payloadLimitBytes),
    maxCachedWorkflows: 20,
    maxConcurrentActivityTaskExecutions: 10,
    shutdownGraceTime: '5 seconds',
  });
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => worker.shutdown());
  // A worker never outlives its host: when the host's channel closes, it stops.
  process.once('disconnect', () => worker.shutdown());
  process.send?.({ ready: true });
  try {
    await worker.run();
  } finally {
    await connection.close();
    await http.close();
    aws.destroy();
  }
}

main().catch((error: unknown) => {
  console.error(`environment worker failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
