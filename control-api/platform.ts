import type { AddressInfo } from 'node:net';
import type { ControlApiConfig } from '../common/config.js';
import { createApiMetrics } from '../common/telemetry/api-metrics.js';
import { serveMetrics } from '../common/telemetry/metrics.js';
import { migrateDatabase, openDatabase } from '../db/client.js';
import { buildApp } from './app.js';
import { startBacklogWatch } from './backlog-watch.js';
import { startRunReconciler } from './run-reconciler.js';
import { startReceiptCollector } from './retention/receipts.js';
import { startScheduledRunRecorder } from './scheduled-runs.js';
import { startWebhookDispatch } from './webhooks/deliveries.js';
import { runDepsOf } from './runs.js';
import { repeatPass } from './repeated-pass.js';
import { ensureOperatorKey } from './operator-key.js';
import { createAuthThrottle } from './limits/auth-throttle.js';
import { createCounters } from './limits/counters.js';
import { createPayloadKeys } from './payload-keys.js';
import { createAccountAccess } from './provisioning/account-access.js';
import { createSigningKeys } from './temporal-auth/signing-keys.js';
import { createControlPlaneTokens } from './temporal-auth/tokens.js';
import { createTemporalClients } from './temporal-clients.js';
import { buildWebUiGateway } from './web-ui/gateway.js';

const urlOf = (address: AddressInfo | string | null, host: string): string =>
  typeof address === 'object' && address ? `http://${host}:${address.port}` : String(address);

/**
 * Opens everything the control API needs, migrates the database (unless told not to), and builds the app. Migrations run
 * as the schema's owner; everything else as the application role, which cannot change the schema.
 */
export async function startControlApi(config: ControlApiConfig, logger: boolean | object = false) {
  if (config.migrateOnStart) await migrateDatabase(config.databaseMigrationUrl);
  const database = openDatabase(config.databaseUrl);
  const tokenTtlMs = config.temporalTokenTtlSeconds * 1000;
  const signingKeys = createSigningKeys(database.db, {
    publishLeadMs: config.temporalKeyPublishLeadSeconds * 1000,
    maxTokenTtlMs: tokenTtlMs,
  });
  const tokenFor = createControlPlaneTokens(signingKeys, tokenTtlMs);
  const regions = Object.values(config.regions);
  const endpointFor = (awsRegion: string) =>
    regions.find((region) => region.awsRegion === awsRegion)?.awsEndpoint;
  const payloadKeys = createPayloadKeys({ db: database.db, endpointFor, credentials: config.aws });
  const temporal = await createTemporalClients(
    config.temporal,
    config.payloadLimitBytes,
    tokenFor,
    payloadKeys,
    config.namespaceProvider,
  );
  const accounts = createAccountAccess({
    endpointFor,
    credentials: config.aws,
    organizations: config.organizations,
    controlAccountId: config.controlAccountId,
  });
  const generatedOperatorKey = await ensureOperatorKey(database.db, config.operatorKey);
  // Until Temporal trusts this API's tokens, a pass that fails is retried unreported.
  let reportBacklogError = (error: Error): void => void error;
  const backlog = startBacklogWatch(
    { db: database.db, temporal, regions: config.regions },
    { onError: (error) => reportBacklogError(error) },
  );
  const counters = createCounters(database.db);
  const authThrottle = createAuthThrottle(database.db, counters, config.limits);
  const apiMetrics = config.metricsPort > 0 ? createApiMetrics() : undefined;
  const app = await buildApp(
    {
      db: database.db,
      temporal,
      accounts,
      config,
      signingKeys,
      payloadKeys,
      backlog,
      counters,
      authThrottle,
    },
    logger,
    apiMetrics,
  );
  await app.listen({ host: config.host, port: config.port });
  // Metrics listen apart from the API: the public port never answers /metrics.
  const metricsListener = apiMetrics
    ? await serveMetrics(apiMetrics.render, { host: config.metricsHost, port: config.metricsPort })
    : undefined;
  const reconciler = startRunReconciler(runDepsOf({ db: database.db, temporal, config, counters }), {
    onError: (error) => app.log.warn({ err: error.message }, 'run reconciler pass failed'),
  });
  const pruning = repeatPass(counters.prune, 60_000, (error) =>
    app.log.warn({ err: error.message }, 'rate limit counters not pruned'),
  );
  const receipts = startReceiptCollector(
    { db: database.db, temporal, accounts, regions: config.regions },
    (error) => app.log.warn({ err: error.message }, 'sweep receipts not collected'),
  );
  const webhooks = startWebhookDispatch(
    {
      db: database.db,
      temporal,
      regions: config.regions,
      retry: config.webhookRetry,
      links: { publicUrl: config.publicUrl, temporalUiUrl: config.temporalUiUrl },
    },
    (error) => app.log.warn({ err: error.message }, 'webhook delivery pass failed'),
  );
  const scheduledRuns = startScheduledRunRecorder({ db: database.db, temporal }, (error) =>
    app.log.warn({ err: error.message }, 'scheduled runs not recorded'),
  );
  // Temporal reads the signing keys from this API's JWKS: serve it first, then learn when it is trusted.
  const trusted = temporal.waitUntilTrusted();
  trusted.catch(() => undefined);
  // Passes fail until Temporal trusts the tokens; from then on a failure is worth a line.
  let backlogErrorAt = 0;
  trusted.then(
    () => {
      reportBacklogError = (error) => {
        // A namespace that cannot be asked fails every pass: logged once a minute at most.
        if (Date.now() - backlogErrorAt < 60_000) return;
        backlogErrorAt = Date.now();
        app.log.warn({ err: error.message }, 'task-queue backlog not read');
      };
    },
    () => undefined,
  );
  // Without a Temporal Web UI server to front (an outside Temporal), the gateway is not started.
  if (config.webUiPort !== undefined && !config.temporalUiUpstream)
    app.log.info(
      'TAVIO_TEMPORAL_UI_UPSTREAM is empty: no Temporal Web UI server, the Web UI gateway is not started',
    );
  const webUi =
    config.webUiPort === undefined || !config.temporalUiUpstream
      ? undefined
      : await buildWebUiGateway({
          db: database.db,
          authThrottle,
          trustedProxies: config.trustedProxies,
          signingKeys,
          payloadKeys,
          upstream: config.temporalUiUpstream,
          tokenTtlMs,
        });
  await webUi?.listen({ host: config.host, port: config.webUiPort });
  return {
    app,
    db: database.db,
    url: urlOf(app.server.address(), config.host),
    generatedOperatorKey,
    payloadKeys,
    /** Settles once Temporal accepts this API's tokens (it reads them from this API's JWKS). */
    trusted,
    webUiUrl: webUi ? urlOf(webUi.server.address(), config.host) : undefined,
    /** Where Prometheus scrapes this API (`TAVIO_METRICS_PORT`); none when it is not set. */
    metricsUrl: metricsListener?.url,
    async close() {
      await Promise.all([
        reconciler.stop(),
        backlog.stop(),
        receipts.stop(),
        pruning.stop(),
        webhooks.stop(),
        scheduledRuns.stop(),
      ]);
      await webUi?.close();
      await metricsListener?.close();
      await app.close();
      await temporal.close();
      accounts.destroy();
      payloadKeys.close();
      await database.close();
    },
  };
}
export type ControlApi = Awaited<ReturnType<typeof startControlApi>>;
