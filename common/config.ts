import { z } from 'zod';
import {
  REGION_CODES,
  GATEWAY_OF,
  regionCodeSchema,
  regionSettingsSchema,
  assertRegistryConsistent,
} from './regions.js';
import type { RegionCode, RegionRegistry } from './regions.js';
import { DEFAULT_PAYLOAD_LIMIT_BYTES } from './payload-guard.js';
import { canonicalNetwork, customerNetworkProblem } from './address-rules.js';

/**
 * All configuration is parsed here, once, at process start. Nothing else reads process.env.
 * Defaults match the local stack started by `npm run stack -- up`, except the database URLs: the
 * stack's passwords are generated (`.stack/postgres-credentials.json`), so those are always given.
 */

type Env = Record<string, string | undefined>;

const DEFAULT_AWS_REGION: Record<RegionCode, string> = {
  us: 'us-east-1',
  ca: 'ca-central-1',
  eu: 'eu-central-1',
};
const DEFAULT_GATEWAY_PORT: Record<RegionCode, number> = { us: 8881, ca: 8882, eu: 8883 };
const DEFAULT_DATAPLANE_PORT: Record<RegionCode, number> = { us: 8891, ca: 8892, eu: 8893 };

function regionRegistryFrom(env: Env): RegionRegistry {
  const entries = REGION_CODES.map((code) => {
    const gateway = GATEWAY_OF[code];
    const upper = gateway.toUpperCase();
    const parsed = regionSettingsSchema.safeParse({
      code,
      gateway,
      taskQueue: gateway,
      awsRegion: env[`TAVIO_AWS_REGION_${code.toUpperCase()}`] ?? DEFAULT_AWS_REGION[code],
      gatewayUrl: env[`TAVIO_GATEWAY_${upper}_URL`] ?? `http://127.0.0.1:${DEFAULT_GATEWAY_PORT[code]}`,
      awsEndpoint: awsEndpointFrom(env),
      gatewayLogFile: env[`TAVIO_GATEWAY_${upper}_LOG`] || undefined,
      dataplaneUrl: env[`TAVIO_DATAPLANE_${upper}_URL`] ?? `http://127.0.0.1:${DEFAULT_DATAPLANE_PORT[code]}`,
    });
    if (!parsed.success) {
      throw new Error(`region ${code} is misconfigured: ${z.prettifyError(parsed.error)}`);
    }
    return [code, parsed.data] as const;
  });
  const registry = Object.fromEntries(entries) as RegionRegistry;
  assertRegistryConsistent(registry);
  return registry;
}

/**
 * Where S3 and KMS are reached: `TAVIO_AWS_ENDPOINT`, else the SDK's standard `AWS_ENDPOINT_URL`,
 * else the local S3/KMS service; an empty value means AWS itself.
 */
function awsEndpointFrom(env: Env): string | undefined {
  const endpoint = env.TAVIO_AWS_ENDPOINT ?? env.AWS_ENDPOINT_URL ?? 'http://127.0.0.1:5055';
  return endpoint === '' ? undefined : endpoint;
}

/** The largest source or destination answer an activity reads; beyond it, `ResponseTooLarge`. */
export const DEFAULT_RESPONSE_LIMIT_BYTES = 4 * 1024 * 1024;
const responseLimitBytesSchema = z.coerce
  .number()
  .int()
  .min(1024)
  .max(256 * 1024 * 1024);

/**
 * A comma-separated list of CIDRs, read into canonical form; a wrong entry names its variable,
 * since the zod path (a config field) is not what an operator set.
 */
const networkListSchema = (
  variable: string,
  problemOf: (cidr: string) => string | undefined = () => undefined,
) =>
  z.string().transform((value, ctx) => {
    const networks: string[] = [];
    const entries = value.split(',').map((part) => part.trim());
    for (const entry of entries.filter(Boolean)) {
      const cidr = canonicalNetwork(entry);
      const problem = cidr === undefined ? `${entry} is not a CIDR such as 10.20.0.0/16` : problemOf(cidr);
      if (problem) ctx.addIssue({ code: 'custom', message: `${variable}: ${problem}` });
      else networks.push(cidr!);
    }
    return networks;
  });

const awsCredentialsSchema = z.object({ accessKeyId: z.string().min(1), secretAccessKey: z.string().min(1) });

const shared = (env: Env) => ({
  temporalAddress: env.TEMPORAL_ADDRESS ?? '127.0.0.1:7233',
  temporalUiUrl: env.TAVIO_TEMPORAL_UI_URL ?? 'http://127.0.0.1:8233',
  payloadLimitBytes: env.TAVIO_PAYLOAD_LIMIT_BYTES ?? String(DEFAULT_PAYLOAD_LIMIT_BYTES),
  logLevel: env.TAVIO_LOG_LEVEL ?? 'info',
  // Credentials of the control plane (or region host) itself; on AWS the default chain supplies them.
  aws: awsEndpointFrom(env)
    ? { accessKeyId: env.AWS_ACCESS_KEY_ID ?? 'test', secretAccessKey: env.AWS_SECRET_ACCESS_KEY ?? 'test' }
    : undefined,
});

const sharedSchema = z.object({
  temporalAddress: z.string().regex(/^[^:]+:\d+$/, 'host:port'),
  temporalUiUrl: z.url(),
  payloadLimitBytes: z.coerce
    .number()
    .int()
    .min(1024)
    .max(2 * 1024 * 1024),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
  aws: awsCredentialsSchema.optional(),
});

const perMinute = z.coerce.number().int().min(1).max(1_000_000);

/** Request rates and failed sign-ins the API accepts; README "Limits and quotas" lists them. */
const limitsSchema = z.object({
  requestsPerKeyPerMinute: perMinute,
  requestsPerAddressPerMinute: perMinute,
  authFailuresPerKey: z.coerce.number().int().min(1).max(10_000),
  authFailuresPerAddress: z.coerce.number().int().min(1).max(100_000),
  authFailureWindowSeconds: z.coerce.number().int().min(1).max(86_400),
});
export type Limits = z.infer<typeof limitsSchema>;

/** What one organization may hold and start, unless the operator sets other figures for it. */
export const quotasSchema = z.object({
  environments: z.coerce.number().int().min(0).max(10_000),
  connections: z.coerce.number().int().min(0).max(1_000_000),
  runsPerMinute: z.coerce.number().int().min(0).max(1_000_000),
  concurrentRunsPerEnvironment: z.coerce.number().int().min(0).max(100_000),
  schedulesPerEnvironment: z.coerce.number().int().min(0).max(10_000),
  webhookEndpointsPerEnvironment: z.coerce.number().int().min(0).max(1_000),
});
export type Quotas = z.infer<typeof quotasSchema>;

/** A list of seconds (`5,30,120`), each at least 1 and at most a day. */
const secondsListSchema = (variable: string) =>
  z.string().transform((value, ctx) => {
    const entries = value
      .split(',')
      .map((part) => part.trim())
      .filter(Boolean);
    const seconds = entries.map(Number);
    if (entries.length === 0 || seconds.some((n) => !Number.isInteger(n) || n < 1 || n > 86_400))
      ctx.addIssue({
        code: 'custom',
        message: `${variable}: whole seconds from 1 to 86400, comma-separated`,
      });
    return seconds;
  });

/** The most attempts one webhook delivery may make (and record). */
export const MAX_WEBHOOK_ATTEMPTS = 500;

/**
 * How many attempts a delivery makes at most with these waits (the last repeats) within `hours`:
 * the first at once, each next one after its wait if that still starts before the deadline.
 * Counting stops past `limit`.
 */
export function webhookAttemptsAllowed(
  delaysSeconds: readonly number[],
  hours: number,
  limit: number,
): number {
  const deadline = hours * 3600;
  let attempts = 1;
  for (let elapsed = 0; attempts <= limit; attempts++) {
    elapsed += delaysSeconds[Math.min(attempts - 1, delaysSeconds.length - 1)] ?? 60;
    if (elapsed > deadline) break;
  }
  return attempts;
}

/** How webhook deliveries are retried: waits between attempts (the last repeats), for a bounded time. */
const webhookRetrySchema = z
  .object({
    delaysSeconds: secondsListSchema('TAVIO_WEBHOOK_RETRY_DELAYS'),
    hours: z.coerce
      .number()
      .positive()
      .max(24 * 7),
  })
  .superRefine((retry, ctx) => {
    if (retry.delaysSeconds.length === 0 || !retry.delaysSeconds.every((n) => Number.isInteger(n) && n >= 1))
      return;
    if (webhookAttemptsAllowed(retry.delaysSeconds, retry.hours, MAX_WEBHOOK_ATTEMPTS) > MAX_WEBHOOK_ATTEMPTS)
      ctx.addIssue({
        code: 'custom',
        message: `TAVIO_WEBHOOK_RETRY_DELAYS and TAVIO_WEBHOOK_RETRY_HOURS allow more than ${MAX_WEBHOOK_ATTEMPTS} attempts per delivery: make the waits longer or the hours fewer`,
      });
  });
export type WebhookRetry = z.infer<typeof webhookRetrySchema>;

const controlApiFields = sharedSchema.extend({
  /** The application role: everything the API does at run time. It should own nothing and not be a superuser. */
  databaseUrl: z.url({
    error: (issue) =>
      issue.input === undefined
        ? 'TAVIO_DATABASE_URL is required: the control database as the application role, for example postgres://tavio_app:<password>@127.0.0.1:55432/tavio (the local stack keeps its passwords in .stack/postgres-credentials.json)'
        : 'TAVIO_DATABASE_URL is not a URL',
  }),
  /**
   * The owner of the schema: migrations only, on a connection of their own. Without
   * TAVIO_DATABASE_MIGRATION_URL it is TAVIO_DATABASE_URL, for a deployment with one role.
   */
  databaseMigrationUrl: z.url({ error: 'TAVIO_DATABASE_MIGRATION_URL is not a URL' }).optional(),
  host: z.string().min(1),
  port: z.coerce.number().int().min(0).max(65535),
  operatorKey: z
    .string()
    .regex(/^tav_op_[A-Za-z0-9_-]{20,}$/, 'tav_op_ followed by at least 20 characters')
    .optional(),
  bodyLimitBytes: z.coerce.number().int().min(1024),
  /** The AWS account of the control plane and the region hosts' principals. */
  controlAccountId: z.string().regex(/^\d{12}$/, '12 digits'),
  /**
   * Where environment accounts come from: `pool` takes an unused one from the accounts the local
   * stack vended at `stack up` (listed in `accountPoolFile`); `external` expects them to exist with
   * their provisioner role (AWS Organizations).
   */
  accountFactory: z.enum(['pool', 'external']),
  accountPoolFile: z.string().min(1),
  regions: z.custom<RegionRegistry>(),
  /** Lifetime of the tokens Temporal authorizes calls with; holders refresh them at half-life. */
  temporalTokenTtlSeconds: z.coerce.number().int().min(30).max(3600),
  /** How long a new signing key is published before it signs; above Temporal's JWKS refresh interval. */
  temporalKeyPublishLeadSeconds: z.coerce.number().int().min(1).max(3600),
  /** Where the Web UI gateway (sign-in in front of the Temporal Web UI) listens; none when unset. */
  webUiPort: z.coerce.number().int().min(0).max(65535).optional(),
  /** The Temporal Web UI server behind the gateway; people never reach it directly. */
  temporalUiUpstream: z.url(),
  /** Where the platform's own services live; no connection may reach them. */
  platformNetworks: networkListSchema('TAVIO_PLATFORM_NETWORKS'),
  /**
   * Loopback or private ranges where customer systems live (for example behind a VPN); connections
   * may reach them. The platform's networks, link-local and metadata addresses stay refused.
   */
  customerNetworks: networkListSchema('TAVIO_CUSTOMER_NETWORKS', customerNetworkProblem),
  /**
   * Proxies in front of the API whose `X-Forwarded-For` names the client address that rate limits
   * count by. None by default: the address is the connection's.
   */
  trustedProxies: networkListSchema('TAVIO_TRUSTED_PROXIES'),
  limits: limitsSchema,
  quotas: quotasSchema,
  /** The shortest interval a schedule may fire at; a cron expression's times may be no closer either. */
  scheduleMinIntervalSeconds: z.coerce.number().int().min(1).max(86_400),
  /** The API's address as its clients reach it: the links webhook payloads carry start with it. */
  publicUrl: z.url(),
  webhookRetry: webhookRetrySchema,
});
/** Without a migration URL of their own, migrations use the application's. */
const controlApiSchema = controlApiFields.transform((config) => ({
  ...config,
  databaseMigrationUrl: config.databaseMigrationUrl ?? config.databaseUrl,
}));
export type ControlApiConfig = z.infer<typeof controlApiSchema>;

function parseOrExit<T>(schema: z.ZodType<T>, input: unknown, what: string): T {
  const parsed = schema.safeParse(input);
  if (!parsed.success) throw new Error(`${what} configuration is invalid:\n${z.prettifyError(parsed.error)}`);
  return parsed.data;
}

/** The control plane's AWS account, unless `TAVIO_CONTROL_ACCOUNT_ID` names another (the local S3/KMS service's default account). */
export const DEFAULT_CONTROL_ACCOUNT_ID = '123456789012';

export function loadControlApiConfig(env: Env = process.env): ControlApiConfig {
  return parseOrExit(
    controlApiSchema,
    {
      ...shared(env),
      databaseUrl: env.TAVIO_DATABASE_URL,
      databaseMigrationUrl: env.TAVIO_DATABASE_MIGRATION_URL || undefined,
      host: env.TAVIO_API_HOST ?? '127.0.0.1',
      port: env.TAVIO_API_PORT ?? '8080',
      operatorKey: env.TAVIO_OPERATOR_KEY,
      bodyLimitBytes: env.TAVIO_API_BODY_LIMIT_BYTES ?? '65536',
      controlAccountId: env.TAVIO_CONTROL_ACCOUNT_ID ?? DEFAULT_CONTROL_ACCOUNT_ID,
      accountFactory: env.TAVIO_ACCOUNT_FACTORY ?? (awsEndpointFrom(env) ? 'pool' : 'external'),
      accountPoolFile: env.TAVIO_ACCOUNT_POOL_FILE ?? '.stack/account-pool.json',
      regions: regionRegistryFrom(env),
      temporalTokenTtlSeconds: env.TAVIO_TEMPORAL_TOKEN_TTL_SECONDS ?? '600',
      temporalKeyPublishLeadSeconds: env.TAVIO_TEMPORAL_KEY_PUBLISH_LEAD_SECONDS ?? '10',
      webUiPort: env.TAVIO_WEB_UI_PORT === '' ? undefined : env.TAVIO_WEB_UI_PORT,
      temporalUiUpstream: env.TAVIO_TEMPORAL_UI_UPSTREAM ?? 'http://127.0.0.1:8234',
      platformNetworks: env.TAVIO_PLATFORM_NETWORKS ?? '127.0.0.1/32,::1/128',
      customerNetworks: env.TAVIO_CUSTOMER_NETWORKS ?? '',
      trustedProxies: env.TAVIO_TRUSTED_PROXIES ?? '',
      limits: {
        requestsPerKeyPerMinute: env.TAVIO_RATE_LIMIT_PER_KEY ?? '1200',
        requestsPerAddressPerMinute: env.TAVIO_RATE_LIMIT_PER_ADDRESS ?? '2400',
        authFailuresPerKey: env.TAVIO_AUTH_FAILURES_PER_KEY ?? '10',
        authFailuresPerAddress: env.TAVIO_AUTH_FAILURES_PER_ADDRESS ?? '100',
        authFailureWindowSeconds: env.TAVIO_AUTH_FAILURE_WINDOW_SECONDS ?? '300',
      },
      quotas: {
        environments: env.TAVIO_QUOTA_ENVIRONMENTS ?? '20',
        connections: env.TAVIO_QUOTA_CONNECTIONS ?? '200',
        runsPerMinute: env.TAVIO_QUOTA_RUNS_PER_MINUTE ?? '120',
        concurrentRunsPerEnvironment: env.TAVIO_QUOTA_CONCURRENT_RUNS ?? '25',
        schedulesPerEnvironment: env.TAVIO_QUOTA_SCHEDULES ?? '50',
        webhookEndpointsPerEnvironment: env.TAVIO_QUOTA_WEBHOOK_ENDPOINTS ?? '20',
      },
      scheduleMinIntervalSeconds: env.TAVIO_SCHEDULE_MIN_INTERVAL_SECONDS ?? '300',
      publicUrl:
        env.TAVIO_API_PUBLIC_URL ??
        `http://${env.TAVIO_API_HOST ?? '127.0.0.1'}:${env.TAVIO_API_PORT ?? '8080'}`,
      webhookRetry: {
        delaysSeconds: env.TAVIO_WEBHOOK_RETRY_DELAYS ?? '5,30,120,600,3600',
        hours: env.TAVIO_WEBHOOK_RETRY_HOURS ?? '24',
      },
    },
    'control API',
  );
}

const regionHostSchema = sharedSchema.extend({
  region: regionCodeSchema,
  controlApiUrl: z.url(),
  hostKey: z.string().regex(/^tav_host_/, 'a region host key (tav_host_...)'),
  pollIntervalMs: z.coerce.number().int().min(100),
  /** How long an environment's worker keeps running with no work before its host stops it. */
  workerIdleMs: z.coerce.number().int().min(0),
  hostId: z.string().min(1),
  responseLimitBytes: responseLimitBytesSchema,
  regions: z.custom<RegionRegistry>(),
  /** The region gateway's proxy password file: this host writes its workers' entries. */
  gatewayPasswdFile: z.string().min(1, 'TAVIO_GATEWAY_PASSWD_FILE names the gateway password file'),
});
export type RegionHostConfig = z.infer<typeof regionHostSchema>;

export function loadRegionHostConfig(env: Env = process.env): RegionHostConfig {
  return parseOrExit(
    regionHostSchema,
    {
      ...shared(env),
      region: env.TAVIO_REGION,
      controlApiUrl: env.TAVIO_CONTROL_API_URL ?? 'http://127.0.0.1:8080',
      hostKey: env.TAVIO_HOST_KEY,
      pollIntervalMs: env.TAVIO_HOST_POLL_MS ?? '500',
      workerIdleMs: env.TAVIO_WORKER_IDLE_MS ?? '60000',
      hostId: env.TAVIO_HOST_ID ?? `${env.TAVIO_REGION ?? 'unknown'}-host-${process.pid}`,
      responseLimitBytes: env.TAVIO_RESPONSE_LIMIT_BYTES ?? String(DEFAULT_RESPONSE_LIMIT_BYTES),
      regions: regionRegistryFrom(env),
      gatewayPasswdFile: env.TAVIO_GATEWAY_PASSWD_FILE ?? '',
    },
    'region host',
  );
}

/** What a region host hands one environment worker: that environment's settings and nothing else. */
export const environmentWorkerSettingsSchema = z.object({
  organization: z.string(),
  environment: z.string(),
  environmentId: z.uuid(),
  region: regionCodeSchema,
  namespace: z.string(),
  /** Named `<org>-<env>`, before names carried the environment's id. */
  legacyNamespace: z.boolean(),
  taskQueue: z.string(),
  bucket: z.string(),
  keyArn: z.string(),
  awsRegion: z.string(),
  awsEndpoint: z.url().optional(),
  gatewayUrl: z.url(),
  temporalAddress: z.string(),
  payloadLimitBytes: z.number().int(),
  responseLimitBytes: responseLimitBytesSchema,
  logLevel: sharedSchema.shape.logLevel,
  workflowBundlePath: z.string(),
  hostId: z.string(),
});
export type EnvironmentWorkerSettings = z.infer<typeof environmentWorkerSettingsSchema>;

export const ENVIRONMENT_WORKER_SETTINGS_VAR = 'TAVIO_ENVIRONMENT_WORKER';

export function loadEnvironmentWorkerSettings(env: Env = process.env): EnvironmentWorkerSettings {
  const raw = env[ENVIRONMENT_WORKER_SETTINGS_VAR];
  if (!raw)
    throw new Error(
      `${ENVIRONMENT_WORKER_SETTINGS_VAR} is not set: environment workers are started by a region host`,
    );
  return parseOrExit(environmentWorkerSettingsSchema, JSON.parse(raw), 'environment worker');
}
