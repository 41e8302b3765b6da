// The SDK's modules this process uses, not its index: the index also loads the workflow bundler
// (webpack), which a worker given a prebuilt bundle never needs; about 0.6 s less to start.
import { NativeConnection } from '@temporalio/worker/lib/connection.js';
import { Runtime } from '@temporalio/worker/lib/runtime.js';
import { Worker } from '@temporalio/worker/lib/worker.js';
import { loadEnvironmentWorkerSettings } from '../common/config.js';
import { temporalConnectOptions } from '../common/temporal-connection.js';
import { workerRuntimeOptions } from '../common/telemetry/worker-runtime.js';
import {
  activityTracing,
  startWorkerTracing,
  workflowTraceSinks,
} from '../common/telemetry/worker-traces.js';
import type { DataplaneCredentials, ProxyCredentials } from '../common/worker-secrets.js';
import { GATEWAY_OF } from '../common/gateways.js';
import { PayloadEncryptionCodec, fixedKeyRing } from '../common/payload-encryption.js';
import { guardedDataConverter } from '../common/payload-guard.js';
import { createSealedStore } from '../common/sealed-objects.js';
import { createEnvironmentAws } from '../activities/aws.js';
import { createConnectionCache } from '../activities/connection-cache.js';
import { createCredentialOpener } from '../activities/credentials.js';
import { createCensusImportActivities } from '../integrations/census-file-import/activities.js';
import { createFileTransferActivities } from '../activities/file-transfer.js';
import { createGatewayHttp, proxyAuthorization } from '../activities/http.js';
import { createHrisSyncActivities } from '../integrations/hris-employee-sync/activities.js';
import { createSweepActivities } from '../activities/retention-sweep.js';
import { createSyncMarkActivities } from '../activities/sync-marks.js';
import { createWebhookActivities } from '../activities/webhook-delivery.js';
import { activityFailureScrubber, activityPayloadGuard } from './activity-guard.js';
import { activityEnvironmentGuard, assertOwnNamespace } from './environment-guard.js';
import { runLogInterceptor } from './run-log-interceptor.js';
import { receiveSecrets } from './secrets-inbox.js';
import { createTokenWatch } from './token-watch.js';

/** Environment worker: one OS process per environment, started by its region's host. */

/** How long an execution's opened connections stay in memory at most (its last page drops them sooner). */
const CONNECTION_TTL_MS = 2 * 60 * 1000;
/** How often the worker looks whether it has tasks in hand. */
const BUSY_CHECK_MS = 500;

// Whatever the worker writes is readable by its own user alone.
process.umask(0o077);

async function main(): Promise<void> {
  const settings = loadEnvironmentWorkerSettings();
  // When its host traces, the worker's spans go to the host over IPC; otherwise nothing is set up.
  const tracing = startWorkerTracing(settings);
  assertOwnNamespace(settings);
  // Without a valid token Temporal refuses every poll: stop, and tell the host why.
  let stop = (): void => process.exit(3);
  const tokenWatch = createTokenWatch((reason) => {
    process.send?.({ stopping: reason });
    console.error(`environment worker stopping: ${reason}`);
    process.exitCode = 3;
    stop();
  });
  // The host sends fresh credentials and tokens before the current ones expire.
  let current: DataplaneCredentials | undefined;
  let proxy: ProxyCredentials | undefined;
  const initial = await receiveSecrets(process, (update) => {
    if (update.credentials) current = update.credentials;
    if (update.temporal) tokenWatch.renew(update.temporal);
    if (update.proxy) proxy = update.proxy;
  });
  current ??= initial.credentials;
  proxy ??= initial.proxy;
  const proxyCredentials = () => proxy!;

  Runtime.install(workerRuntimeOptions(settings));
  const aws = createEnvironmentAws({
    awsRegion: settings.awsRegion,
    endpoint: settings.awsEndpoint,
    gatewayUrl: settings.gatewayUrl,
    credentials: async () => {
      const now = current ?? initial.credentials;
      return { ...now, expiration: new Date(now.expiration) };
    },
    proxyCredentials,
  });
  const gateway = GATEWAY_OF[settings.region];
  const http = createGatewayHttp(settings.gatewayUrl, gateway, proxyCredentials);
  const credentials = createCredentialOpener({ aws, ...settings, gateway });
  /** Where runs that move files keep them: the environment's bucket, sealed under its key. */
  const files = {
    aws,
    store: createSealedStore({ s3: aws.s3, kms: aws.kms, bucket: settings.bucket, scope: settings }),
    bucket: settings.bucket,
    keyArn: settings.keyArn,
  };
  const temporal = settings.temporal;
  const tokenMetadata = tokenWatch.renew(initial.temporal);
  // Under `static`, the deployment's API key or client certificate authorizes the worker: no token is sent.
  const connection = await NativeConnection.connect({
    ...temporalConnectOptions({ ...temporal, ...initial.temporalClient }),
    ...(temporal.auth === 'tavio-tokens' && { metadata: tokenMetadata }),
  });
  if (temporal.auth === 'tavio-tokens') tokenWatch.attach(connection);
  const worker = await Worker.create({
    connection,
    namespace: settings.namespace,
    taskQueue: settings.taskQueue,
    identity: `${settings.hostId}/${settings.namespace}/${process.pid}`,
    workflowBundle: { codePath: settings.workflowBundlePath },
    activities: {
      ...createHrisSyncActivities({
        http,
        credentials,
        connections: createConnectionCache({ ttlMs: CONNECTION_TTL_MS, maxEntries: 64 }),
        responseLimitBytes: settings.responseLimitBytes,
      }),
      ...createFileTransferActivities({
        ...files,
        credentials,
        gateway: () => ({
          url: settings.gatewayUrl,
          code: gateway,
          authorization: proxyAuthorization(proxyCredentials()),
        }),
      }),
      ...createSweepActivities({ s3: aws.s3, bucket: settings.bucket }),
      ...createSyncMarkActivities({ store: files.store, gateway }),
      ...createWebhookActivities({ http, credentials }),
      ...createCensusImportActivities({
        ...files,
        http,
        credentials,
        responseLimitBytes: settings.responseLimitBytes,
      }),
    },
    interceptors: {
      activity: [
        // Outermost: an activity's span covers the whole chain and sees its failure as scrubbed.
        ...activityTracing(tracing),
        activityFailureScrubber(),
        activityEnvironmentGuard(settings),
        // Inside the environment guard (a refused task leaves nothing in this bucket), outside the
        // payload guard (a result refused as too large is logged as the activity's failure).
        runLogInterceptor({ store: files.store, scope: settings }),
        activityPayloadGuard(settings.payloadLimitBytes),
      ],
    },
    sinks: workflowTraceSinks(tracing),
    dataConverter: guardedDataConverter(
      settings.payloadLimitBytes,
      new PayloadEncryptionCodec(
        settings.namespace,
        fixedKeyRing([{ id: initial.payloadKey.id, key: Buffer.from(initial.payloadKey.key, 'base64') }]),
      ),
    ),
    maxCachedWorkflows: 20,
    maxConcurrentActivityTaskExecutions: 10,
    // A heartbeat reaches Temporal at most this long after it is given: what a retry after a
    // worker's death resumes from (a file's parts, a census file's pages) is at most this old.
    maxHeartbeatThrottleInterval: '2 seconds',
    shutdownGraceTime: '5 seconds',
  });
  // A signal and the host's channel closing may both arrive; shut down once.
  stop = () => {
    if (worker.getState() === 'RUNNING') worker.shutdown();
  };
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, stop);
  // A worker never outlives its host: when the host's channel closes, it stops.
  process.once('disconnect', stop);
  // Its host stops a worker that has had no work for a while: it tells the host whether it has
  // tasks in hand whenever that changes.
  let busy = false;
  const busyWatch = setInterval(() => {
    const status = worker.getStatus();
    const now = status.numInFlightActivities + status.numInFlightWorkflowActivations > 0;
    if (now !== busy) process.send?.({ busy: now });
    busy = now;
  }, BUSY_CHECK_MS);
  busyWatch.unref();
  process.send?.({ ready: true });
  try {
    await worker.run();
  } finally {
    clearInterval(busyWatch);
    tokenWatch.stop();
    await connection.close();
    await http.close();
    aws.destroy();
    // Hands the host the last spans while its channel is open.
    await tracing?.shutdown().catch(() => undefined);
  }
}

// Once the worker has stopped, the process ends: the host's IPC channel would otherwise keep it alive.
main().then(
  () => process.exit(),
  (error: unknown) => {
    console.error(`environment worker failed: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  },
);
