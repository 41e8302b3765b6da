import { pino } from 'pino';
import type { Logger } from 'pino';
import { z } from 'zod';
import { ENVIRONMENT_WORKER_SETTINGS_VAR, loadRegionHostConfig } from '../common/config.js';
import type { EnvironmentWorkerSettings, RegionHostConfig } from '../common/config.js';
import { payloadKeySchema, temporalTokenSchema } from '../common/worker-secrets.js';
import { temporalClientSecretsOf, temporalEndpointOf } from '../common/temporal-connection.js';
import { createHostMetrics } from '../common/telemetry/host-metrics.js';
import { loggerOptions } from '../common/telemetry/logging.js';
import { serveMetrics } from '../common/telemetry/metrics.js';
import { hostTraces } from '../common/telemetry/host-traces.js';
import { startTracing, TRACE_SERVICE } from '../common/telemetry/tracing.js';
import { createDataplaneCredentialIssuer } from './dataplane-credentials.js';
import { createGatewayCredentials } from './gateway-credentials.js';
import { createLogServer } from './log-server.js';
import { createRegionSandbox } from './sandbox.js';
import type { RegionSandbox } from './sandbox.js';
import { createSupervisor } from './supervisor.js';
import { createWorkerSecrets } from './worker-secrets.js';
import { prepareWorkerCode } from './worker-code.js';

/** What the control API tells a region host about an active environment: identifiers, no secrets. */
const assignmentSchema = z.object({
  id: z.uuid(),
  organization: z.string(),
  environment: z.string(),
  region: z.string(),
  namespace: z.string(),
  legacyNamespace: z.boolean(),
  taskQueue: z.string(),
  bucket: z.string(),
  keyArn: z.string(),
  awsRegion: z.string(),
  dataplaneRoleArn: z.string(),
  /** The environment's work now: its running runs, and whether tasks wait on its queue untaken. */
  work: z.object({ runningRuns: z.number().int(), backlog: z.boolean() }),
});
type Assignment = z.infer<typeof assignmentSchema>;

const CREDENTIAL_SECONDS = 3600;

/** A call of this region's host to the control API, its answer checked against the shared schema. */
async function askControlApi<T>(
  config: RegionHostConfig,
  method: 'GET' | 'POST',
  path: string,
  schema: z.ZodType<T>,
  body?: unknown,
): Promise<T> {
  const response = await fetch(`${config.controlApiUrl}/v1/regions/${config.region}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${config.hostKey}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`control API answered ${response.status} for ${method} ${path}`);
  return schema.parse(await response.json());
}

const fetchAssignments = (config: RegionHostConfig): Promise<Assignment[]> =>
  askControlApi(config, 'GET', '/environments', z.object({ environments: z.array(assignmentSchema) })).then(
    (answer) => answer.environments,
  );

/** What the control API hands this region's host alone for one of its environments' workers. */
const fetchForWorker = <T>(
  config: RegionHostConfig,
  environmentId: string,
  what: 'temporal-token' | 'payload-key',
  schema: z.ZodType<T>,
): Promise<T> => askControlApi(config, 'POST', `/environments/${environmentId}/${what}`, schema);

/**
 * The sandbox of this region's workers. It needs root (to create users and nftables rules); without
 * it, workers run as the host's own user, as on a developer's machine.
 */
function regionSandbox(config: RegionHostConfig, log: Logger): RegionSandbox | undefined {
  if (process.getuid?.() !== 0) {
    log.warn('not running as root: environment workers run as this user, without OS user or network sandbox');
    return undefined;
  }
  const region = config.regions[config.region];
  return createRegionSandbox({
    gateway: region.gateway,
    temporalAddress: config.temporalAddress,
    gatewayUrl: region.gatewayUrl,
    log,
  });
}

async function main(): Promise<void> {
  // Tracing first, when the OpenTelemetry variables configure it; the workers' spans come through this host.
  const tracing = startTracing(TRACE_SERVICE.regionHost);
  const config = loadRegionHostConfig();
  const log = pino(loggerOptions(config.logLevel, { host: config.hostId, region: config.region }));
  const region = config.regions[config.region];
  log.info('building the environment worker and the workflow bundle');
  const code = await prepareWorkerCode();
  const issuer = createDataplaneCredentialIssuer({
    awsRegion: region.awsRegion,
    endpoint: region.awsEndpoint,
    credentials: config.aws,
    hostId: config.hostId,
  });
  /** This host's environments at the last pass, by id: the run-log endpoint serves these alone. */
  let assignedHere = new Map<string, Assignment>();
  const logs = createLogServer({
    region: config.region,
    url: region.dataplaneUrl,
    controlApiUrl: config.controlApiUrl,
    awsEndpoint: region.awsEndpoint,
    assignment: (id) => assignedHere.get(id),
    issueCredentials: (roleArn, seconds) => issuer.issue(roleArn, seconds),
    log,
  });
  await logs.listen();
  const gatewayCredentials = createGatewayCredentials(config.gatewayPasswdFile);
  await gatewayCredentials.reset();
  const sandbox = regionSandbox(config, log);
  await sandbox?.start();
  /**
   * Ready while the control API answered its last poll and that poll is recent (three intervals, at
   * least 30 s): a host that cannot learn its environments' work starts and stops no worker.
   */
  let polledAt = 0;
  const ready = () => Date.now() - polledAt < Math.max(3 * config.pollIntervalMs, 30_000);
  const metrics = createHostMetrics(config.region);
  const traces = hostTraces(tracing, log, config.region);
  const supervisor = createSupervisor(log, code.entryPath, sandbox, {
    started: metrics.workerStarted,
    restarting: metrics.workerRestarting,
    exited: metrics.workerExited,
    message: (key, message) => metrics.runtimeMessage(key, message) || traces.message(key, message),
    messageDropped: metrics.workerMessageDropped,
  });
  metrics.countRunning(supervisor.running);
  // Apart from the run-log endpoint, and off unless TAVIO_HOST_METRICS_PORT is set.
  const metricsListener =
    config.metricsPort > 0
      ? await serveMetrics(metrics.render, { host: config.metricsHost, port: config.metricsPort }, ready)
      : undefined;
  if (metricsListener) log.info({ url: metricsListener.url }, 'serving metrics');
  const secrets = createWorkerSecrets(log, (key, update) => supervisor.sendSecrets(key, update));

  function settingsFor(assignment: Assignment): EnvironmentWorkerSettings {
    return {
      organization: assignment.organization,
      environment: assignment.environment,
      environmentId: assignment.id,
      region: config.region,
      namespace: assignment.namespace,
      legacyNamespace: assignment.legacyNamespace,
      taskQueue: assignment.taskQueue,
      bucket: assignment.bucket,
      keyArn: assignment.keyArn,
      awsRegion: assignment.awsRegion,
      awsEndpoint: region.awsEndpoint,
      gatewayUrl: region.gatewayUrl,
      temporal: temporalEndpointOf(config.temporal),
      payloadLimitBytes: config.payloadLimitBytes,
      responseLimitBytes: config.responseLimitBytes,
      logLevel: config.logLevel,
      workflowBundlePath: code.workflowBundlePath,
      hostId: config.hostId,
      runtimeMetrics: metricsListener !== undefined,
      traces: traces.enabled,
    };
  }

  /** The last problem told to the control API per environment, so that each change is told once. */
  const toldProblems = new Map<string, string | null>();
  function reportProblem(key: string, problem: string | null): void {
    if ((toldProblems.get(key) ?? null) === problem) return;
    toldProblems.set(key, problem);
    askControlApi(config, 'POST', `/environments/${key}/worker-problem`, z.unknown(), { problem }).catch(
      (error: Error) => {
        toldProblems.delete(key);
        log.warn({ worker: key, err: error.message }, 'could not report the worker problem');
      },
    );
  }

  /** Tells the control API, for the environment's deletion receipt, what went with its stopped worker. */
  async function reportReleased(key: string): Promise<void> {
    const sandboxed = await sandbox?.verifyReleased(key);
    const release = {
      osUser: sandboxed?.osUser ?? null,
      osUserRemoved: sandboxed?.osUserRemoved ?? false,
      networkRulesRemoved: sandboxed?.networkRulesRemoved ?? false,
      gatewayCredentialsRevoked: !(await gatewayCredentials.listed(key)),
    };
    await askControlApi(config, 'POST', `/environments/${key}/worker-released`, z.unknown(), release);
  }

  /** When each environment last had work (runs, a backlog, tasks in hand), while it is assigned here. */
  const lastWorkAt = new Map<string, number>();
  /** Environments assigned to this host at the last pass, with or without a running worker. */
  const knownHere = new Set<string>();
  /** Workers being stopped for lack of work: started again only once stopped. */
  const idleStops = new Map<string, Promise<void>>();

  /**
   * Stops a worker and then takes back what it was given: its secrets and its gateway credentials.
   * In that order: a worker still starting may be issuing them until its stop returns.
   */
  async function stopWorker(key: string): Promise<void> {
    await supervisor.stop(key);
    secrets.forget(key);
    metrics.forgetWorker(key);
    traces.forget(key);
    await gatewayCredentials.revoke(key);
  }

  function startWorker(assignment: Assignment): void {
    traces.assign(assignment.id, assignment);
    supervisor.ensure({
      key: assignment.id,
      env: () => ({ [ENVIRONMENT_WORKER_SETTINGS_VAR]: JSON.stringify(settingsFor(assignment)) }),
      secrets: () =>
        secrets
          .issue(assignment.id, {
            credentials: metrics.counted('aws', () =>
              issuer.issue(assignment.dataplaneRoleArn, CREDENTIAL_SECONDS),
            ),
            temporal: metrics.counted('temporal-token', () =>
              fetchForWorker(config, assignment.id, 'temporal-token', temporalTokenSchema),
            ),
            payloadKey: metrics.counted('payload-key', () =>
              fetchForWorker(config, assignment.id, 'payload-key', payloadKeySchema),
            ),
            proxy: metrics.counted('gateway', () => gatewayCredentials.issue(assignment.id)),
          })
          .then((issued) => {
            // The Temporal client key and static API key travel over IPC, never in the settings.
            const temporalClient = temporalClientSecretsOf(config.temporal);
            return temporalClient ? { ...issued, temporalClient } : issued;
          }),
      onProblem: (problem) => reportProblem(assignment.id, problem),
    });
  }

  /**
   * Runs a worker for each of this region's environments that has work, and stops one once its
   * environment has had none for the idle period. An environment that is no longer assigned here
   * (retired, failed) loses its worker at once, and its deletion receipt learns what went with it.
   */
  async function reconcile(): Promise<void> {
    const assignments = await fetchAssignments(config);
    const now = Date.now();
    const assigned = new Map<string, Assignment>();
    for (const assignment of assignments) {
      // Defense in depth: the API filters by region, and the host checks again.
      if (assignment.region !== config.region || assignment.taskQueue !== region.taskQueue) {
        log.error(
          { environment: assignment.namespace, region: assignment.region },
          'refusing an environment of another region',
        );
        continue;
      }
      const key = assignment.id;
      assigned.set(key, assignment);
      const { runningRuns, backlog } = assignment.work;
      if (runningRuns > 0 || backlog || supervisor.busy(key)) lastWorkAt.set(key, now);
      const workedAt = lastWorkAt.get(key);
      const running = supervisor.has(key);
      if (workedAt === undefined || now - workedAt >= config.workerIdleMs) {
        lastWorkAt.delete(key);
        if (running && !idleStops.has(key)) {
          log.info({ worker: key, idleMs: config.workerIdleMs }, 'environment idle: stopping its worker');
          idleStops.set(
            key,
            stopWorker(key)
              .catch((error: Error) =>
                log.error({ worker: key, err: error.message }, 'idle worker not stopped'),
              )
              .finally(() => idleStops.delete(key)),
          );
        }
      } else if (!running && !idleStops.has(key)) {
        startWorker(assignment);
      }
    }
    assignedHere = assigned;
    for (const key of [...lastWorkAt.keys()]) if (!assigned.has(key)) lastWorkAt.delete(key);
    for (const key of knownHere) {
      if (assigned.has(key)) continue;
      logs.forget(key);
      await idleStops.get(key);
      // Known here until its worker is stopped: a failed stop is tried again at the next pass.
      await stopWorker(key);
      knownHere.delete(key);
      toldProblems.delete(key);
      await reportReleased(key).catch((error: Error) =>
        log.warn({ worker: key, err: error.message }, 'could not report the released worker'),
      );
    }
    for (const key of assigned.keys()) knownHere.add(key);
  }
  let stopping = false;
  const shutdown = async () => {
    if (stopping) return;
    stopping = true;
    log.info('stopping all environment workers');
    await logs
      .close()
      .catch((error: Error) => log.error({ err: error.message }, 'could not stop serving run logs'));
    secrets.forgetAll();
    await supervisor.stopAll();
    await gatewayCredentials.revokeAll().catch(() => undefined);
    await sandbox
      ?.close()
      .catch((error: Error) => log.error({ err: error.message }, 'could not remove the sandbox'));
    await metricsListener?.close();
    await tracing?.shutdown().catch(() => undefined);
    issuer.destroy();
    await code.remove();
    process.exit(0);
  };
  process.once('SIGTERM', () => void shutdown());
  process.once('SIGINT', () => void shutdown());

  log.info({ pollMs: config.pollIntervalMs }, 'region host polling the control API for environments');
  while (!stopping) {
    await reconcile().then(
      () => (polledAt = Date.now()),
      (error: Error) => log.warn({ err: error.message }, 'could not reconcile environments'),
    );
    await new Promise((resolve) => setTimeout(resolve, config.pollIntervalMs));
  }
}

main().catch((error: unknown) => {
  console.error(`region host failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
