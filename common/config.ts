import { readFileSync } from 'node:fs';
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
import { HOST_PORT, loadTemporalConnection, temporalEndpointSchema } from './temporal-connection.js';
import type { TemporalConnectionSettings } from './temporal-connection.js';

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

const awsCredentialsSchema = z.object({
  accessKeyId: z.string().min(1),
  secretAccessKey: z.string().min(1),
  sessionToken: z.string().min(1).optional(),
});
export type AwsCredentials = z.infer<typeof awsCredentialsSchema>;

/**
 * The process's own AWS credentials where the configuration names keys. Otherwise none, and the
 * SDK's default chain finds them (AWS_PROFILE and the shared config and credentials files, web
 * identity, container and instance roles); against the local S3/KMS service with nothing
 * configured, the service's test keys.
 */
function awsCredentialsFrom(env: Env): AwsCredentials | undefined {
  if (env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY)
    return {
      accessKeyId: env.AWS_ACCESS_KEY_ID,
      secretAccessKey: env.AWS_SECRET_ACCESS_KEY,
      sessionToken: env.AWS_SESSION_TOKEN || undefined,
    };
  const chainConfigured = [
    env.AWS_PROFILE,
    env.AWS_WEB_IDENTITY_TOKEN_FILE,
    env.AWS_CONTAINER_CREDENTIALS_FULL_URI,
    env.AWS_CONTAINER_CREDENTIALS_RELATIVE_URI,
  ].some(Boolean);
  return awsEndpointFrom(env) && !chainConfigured
    ? { accessKeyId: 'test', secretAccessKey: 'test' }
    : undefined;
}

const shared = (env: Env) => ({
  ...temporalOf(env),
  temporalUiUrl: env.TAVIO_TEMPORAL_UI_URL ?? 'http://127.0.0.1:8233',
  payloadLimitBytes: env.TAVIO_PAYLOAD_LIMIT_BYTES ?? String(DEFAULT_PAYLOAD_LIMIT_BYTES),
  logLevel: env.TAVIO_LOG_LEVEL ?? 'info',
  // Credentials of the control plane (or region host) itself; without them the SDK's default chain.
  aws: awsCredentialsFrom(env),
});

/** Temporal's settings from the SDK's standard configuration (see temporal-connection.ts). */
function temporalOf(env: Env) {
  const temporal = loadTemporalConnection(env);
  return { temporalAddress: temporal.address, temporal };
}

const sharedSchema = z.object({
  temporalAddress: z.string().regex(HOST_PORT, 'host:port'),
  temporal: z.custom<TemporalConnectionSettings>(),
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

/** Temporal Cloud's Ops API, unless TAVIO_TEMPORAL_CLOUD_API_ADDRESS names another. */
export const DEFAULT_TEMPORAL_CLOUD_API_ADDRESS = 'saas-api.tmprl.cloud:443';

/**
 * Where environments' namespaces are made: `self-hosted` asks the Temporal server itself; `cloud`
 * asks Temporal Cloud's Ops API with a key of its own, in the Cloud region of each Tavio region.
 */
const namespaceProviderSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('self-hosted') }),
  z.object({
    kind: z.literal('cloud'),
    apiKey: z
      .string({ error: 'TAVIO_TEMPORAL_CLOUD_API_KEY is required with TAVIO_NAMESPACE_PROVIDER=cloud' })
      .min(1),
    /** The account id Cloud appends to namespace names (`<name>.<account>`). */
    account: z
      .string({ error: 'TAVIO_TEMPORAL_CLOUD_ACCOUNT is required with TAVIO_NAMESPACE_PROVIDER=cloud' })
      .regex(/^[a-z0-9]+$/, 'TAVIO_TEMPORAL_CLOUD_ACCOUNT: the account id, lowercase letters and digits'),
    apiAddress: z.string().regex(HOST_PORT, 'TAVIO_TEMPORAL_CLOUD_API_ADDRESS: host:port'),
    /** Cloud region per Tavio region, e.g. aws-us-east-1. */
    regions: z.record(
      regionCodeSchema,
      z.string().regex(/^[a-z0-9-]+$/, 'a Cloud region such as aws-us-east-1'),
    ),
    /** PEM of the CA whose client certificates the namespaces accept (mTLS), besides API keys. */
    acceptedClientCaPem: z.string().min(1).optional(),
  }),
]);
export type NamespaceProviderConfig = z.infer<typeof namespaceProviderSchema>;

function namespaceProviderFrom(env: Env, regions: RegionRegistry): unknown {
  const kind = env.TAVIO_NAMESPACE_PROVIDER || 'self-hosted';
  if (kind !== 'cloud') return { kind };
  const caPath = env.TAVIO_TEMPORAL_CLOUD_CLIENT_CA_PATH;
  let acceptedClientCaPem: string | undefined;
  try {
    acceptedClientCaPem = caPath ? readFileSync(caPath, 'utf8') : undefined;
  } catch (error) {
    throw new Error(
      `TAVIO_TEMPORAL_CLOUD_CLIENT_CA_PATH could not be read (${(error as NodeJS.ErrnoException).code ?? 'unreadable'})`,
    );
  }
  return {
    kind,
    apiKey: env.TAVIO_TEMPORAL_CLOUD_API_KEY || undefined,
    account: env.TAVIO_TEMPORAL_CLOUD_ACCOUNT || undefined,
    apiAddress: env.TAVIO_TEMPORAL_CLOUD_API_ADDRESS || DEFAULT_TEMPORAL_CLOUD_API_ADDRESS,
    regions: Object.fromEntries(
      REGION_CODES.map((code) => [
        code,
        env[`TAVIO_TEMPORAL_CLOUD_REGION_${code.toUpperCase()}`] || `aws-${regions[code].awsRegion}`,
      ]),
    ),
    acceptedClientCaPem,
  };
}

/** Stands for the environment's id in TAVIO_ACCOUNT_EMAIL_PATTERN. */
export const ACCOUNT_EMAIL_PLACEHOLDER = '{environmentId}';
const SAMPLE_ENVIRONMENT_ID = '00000000-0000-4000-8000-000000000000';
/** What AWS accepts as an account's root address: 6 to 64 characters. */
const accountEmailOk = (email: string) =>
  email.length >= 6 && email.length <= 64 && /^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email);

/** How the `organizations` account factory creates environment accounts (README "AWS accounts"). */
const organizationsSchema = z.object({
  emailPattern: z
    .string({
      error:
        'TAVIO_ACCOUNT_EMAIL_PATTERN is required with TAVIO_ACCOUNT_FACTORY=organizations, for example aws+{environmentId}@example.com',
    })
    .refine(
      (pattern) => pattern.includes(ACCOUNT_EMAIL_PLACEHOLDER),
      'TAVIO_ACCOUNT_EMAIL_PATTERN must hold {environmentId}: every account needs an address of its own',
    )
    .refine(
      (pattern) => accountEmailOk(pattern.replaceAll(ACCOUNT_EMAIL_PLACEHOLDER, SAMPLE_ENVIRONMENT_ID)),
      'TAVIO_ACCOUNT_EMAIL_PATTERN: with a 36-character id for {environmentId}, an address of 6 to 64 characters',
    ),
  /** The OU (or root) new accounts are moved into; they stay under the root when unset. */
  parentOu: z
    .string()
    .regex(
      /^(r-[0-9a-z]{4,32}|ou-[0-9a-z]{4,32}-[a-z0-9]{8,32})$/,
      'TAVIO_ACCOUNT_PARENT_OU: an OU id (ou-...) or the root id (r-...)',
    )
    .optional(),
  /** The role AWS Organizations creates in each new account for the management account. */
  accessRoleName: z.string().regex(/^[\w+=,.@-]{1,64}$/, 'TAVIO_ACCOUNT_ACCESS_ROLE: an IAM role name'),
  /** How long one provisioning attempt waits for an account; a later attempt waits on. */
  creationTimeoutSeconds: z.coerce
    .number({ error: 'TAVIO_ACCOUNT_CREATION_TIMEOUT_SECONDS: whole seconds from 1 to 3600' })
    .int()
    .min(1)
    .max(3600),
  /** The region Organizations is called in (its endpoint is global). */
  region: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'AWS_REGION: an AWS region such as us-east-1'),
  endpoint: z.url().optional(),
});
export type OrganizationsSettings = z.infer<typeof organizationsSchema>;

/** The account factory named by TAVIO_ACCOUNT_FACTORY (`pool` still names the emulator's pool), and its settings. */
function accountFactoryFrom(env: Env) {
  const named = env.TAVIO_ACCOUNT_FACTORY ?? 'emulator-pool';
  const accountFactory = named === 'pool' ? 'emulator-pool' : named;
  return {
    accountFactory,
    accountPoolFile: env.TAVIO_ACCOUNT_POOL_FILE ?? '.stack/account-pool.json',
    organizations:
      accountFactory === 'organizations'
        ? {
            emailPattern: env.TAVIO_ACCOUNT_EMAIL_PATTERN || undefined,
            parentOu: env.TAVIO_ACCOUNT_PARENT_OU || undefined,
            accessRoleName: env.TAVIO_ACCOUNT_ACCESS_ROLE || 'OrganizationAccountAccessRole',
            creationTimeoutSeconds: env.TAVIO_ACCOUNT_CREATION_TIMEOUT_SECONDS ?? '240',
            region: env.AWS_REGION || 'us-east-1',
            endpoint: awsEndpointFrom(env),
          }
        : undefined,
  };
}

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
  /**
   * Whether the API applies pending migrations when it starts (the local stack). A deployment sets
   * `false` and runs the migrate command as a step of its own before it starts new API processes.
   */
  migrateOnStart: z
    .enum(['true', 'false'], { error: 'TAVIO_MIGRATE_ON_START is true or false' })
    .transform((value) => value === 'true'),
  host: z.string().min(1),
  port: z.coerce.number().int().min(0).max(65535),
  operatorKey: z
    .string()
    .regex(/^tav_op_[A-Za-z0-9_-]{20,}$/, 'tav_op_ followed by at least 20 characters')
    .optional(),
  bodyLimitBytes: z.coerce.number().int().min(1024),
  /**
   * The AWS account of the control plane and the region hosts' principals: the one account every
   * provisioner and data-plane role trusts. Required on AWS and with the Organizations factory.
   */
  controlAccountId: z
    .string({
      error:
        'TAVIO_CONTROL_ACCOUNT_ID is required with TAVIO_ACCOUNT_FACTORY=organizations or on AWS itself (TAVIO_AWS_ENDPOINT empty): the 12-digit account of the control plane and region hosts, which every environment role trusts',
    })
    .regex(/^\d{12}$/, 'TAVIO_CONTROL_ACCOUNT_ID: 12 digits'),
  /**
   * Where environment accounts come from: `emulator-pool` takes an unused one from the accounts the
   * local stack vended at `stack up` (listed in `accountPoolFile`); `organizations` has AWS
   * Organizations create one per environment (`organizations` holds how).
   */
  accountFactory: z.enum(['emulator-pool', 'organizations'], {
    error:
      'TAVIO_ACCOUNT_FACTORY is emulator-pool (alias pool; the local stack) or organizations (AWS Organizations creates each environment its account)',
  }),
  accountPoolFile: z.string().min(1),
  organizations: organizationsSchema.optional(),
  regions: z.custom<RegionRegistry>(),
  /** Lifetime of the tokens Temporal authorizes calls with; holders refresh them at half-life. */
  temporalTokenTtlSeconds: z.coerce.number().int().min(30).max(3600),
  /** How long a new signing key is published before it signs; above Temporal's JWKS refresh interval. */
  temporalKeyPublishLeadSeconds: z.coerce.number().int().min(1).max(3600),
  /** Where the Web UI gateway (sign-in in front of the Temporal Web UI) listens; none when unset. */
  webUiPort: z.coerce.number().int().min(0).max(65535).optional(),
  /**
   * The Temporal Web UI server behind the gateway; people never reach it directly. None (an empty
   * TAVIO_TEMPORAL_UI_UPSTREAM) when Temporal's Web UI is not Tavio's to front: no gateway starts.
   */
  temporalUiUpstream: z.url().optional(),
  /** Who creates and deletes environments' namespaces: the Temporal server itself, or Temporal Cloud's Ops API. */
  namespaceProvider: namespaceProviderSchema,
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
  /** Where `GET /metrics` (Prometheus) listens, apart from the API's port; none when 0 or unset. */
  metricsPort: z.coerce.number().int().min(0).max(65535),
  metricsHost: z.string().min(1),
});
/** Without a migration URL of their own, migrations use the application's. */
const controlApiSchema = controlApiFields
  .superRefine((config, ctx) => {
    if (config.namespaceProvider.kind === 'cloud' && config.temporal.auth !== 'static')
      ctx.addIssue({
        code: 'custom',
        path: ['namespaceProvider'],
        message:
          'TAVIO_NAMESPACE_PROVIDER=cloud needs TAVIO_TEMPORAL_AUTH=static: Temporal Cloud authorizes its own API keys or client certificates, not Tavio tokens',
      });
  })
  .transform((config) => ({
    ...config,
    databaseMigrationUrl: config.databaseMigrationUrl ?? config.databaseUrl,
  }));
export type ControlApiConfig = z.infer<typeof controlApiSchema>;

/** What the migrate command needs: the control database as the owner of its schema, nothing else. */
const migrationSchema = (variable: string) =>
  z.object({
    databaseMigrationUrl: z.url({
      error: (issue) =>
        issue.input === undefined
          ? 'TAVIO_DATABASE_MIGRATION_URL (or TAVIO_DATABASE_URL) is required: the control database as the owner of its schema, for example postgres://tavio_owner:<password>@127.0.0.1:55432/tavio'
          : `${variable} is not a URL`,
    }),
  });
export type MigrationConfig = z.infer<ReturnType<typeof migrationSchema>>;

function parseOrExit<T>(schema: z.ZodType<T>, input: unknown, what: string): T {
  const parsed = schema.safeParse(input);
  if (!parsed.success) throw new Error(`${what} configuration is invalid:\n${z.prettifyError(parsed.error)}`);
  return parsed.data;
}

/** The local S3/KMS service's default account: the control account of the local stack only. */
export const DEFAULT_CONTROL_ACCOUNT_ID = '123456789012';

/**
 * `TAVIO_CONTROL_ACCOUNT_ID`; against the local S3/KMS service with its pool, the service's default
 * account. On AWS, or where Organizations makes accounts, none: every environment role would trust
 * an account that is not Tavio's.
 */
function controlAccountIdFrom(env: Env): string | undefined {
  if (env.TAVIO_CONTROL_ACCOUNT_ID) return env.TAVIO_CONTROL_ACCOUNT_ID;
  const onAws = awsEndpointFrom(env) === undefined;
  const organizations = accountFactoryFrom(env).accountFactory === 'organizations';
  return onAws || organizations ? undefined : DEFAULT_CONTROL_ACCOUNT_ID;
}

export function loadControlApiConfig(env: Env = process.env): ControlApiConfig {
  return parseOrExit(
    controlApiSchema,
    {
      ...shared(env),
      databaseUrl: env.TAVIO_DATABASE_URL,
      databaseMigrationUrl: env.TAVIO_DATABASE_MIGRATION_URL || undefined,
      migrateOnStart: env.TAVIO_MIGRATE_ON_START ?? 'true',
      host: env.TAVIO_API_HOST ?? '127.0.0.1',
      port: env.TAVIO_API_PORT ?? '8080',
      operatorKey: env.TAVIO_OPERATOR_KEY,
      bodyLimitBytes: env.TAVIO_API_BODY_LIMIT_BYTES ?? '65536',
      controlAccountId: controlAccountIdFrom(env),
      ...accountFactoryFrom(env),
      regions: regionRegistryFrom(env),
      temporalTokenTtlSeconds: env.TAVIO_TEMPORAL_TOKEN_TTL_SECONDS ?? '600',
      temporalKeyPublishLeadSeconds: env.TAVIO_TEMPORAL_KEY_PUBLISH_LEAD_SECONDS ?? '10',
      webUiPort: env.TAVIO_WEB_UI_PORT === '' ? undefined : env.TAVIO_WEB_UI_PORT,
      temporalUiUpstream:
        env.TAVIO_TEMPORAL_UI_UPSTREAM === ''
          ? undefined
          : (env.TAVIO_TEMPORAL_UI_UPSTREAM ?? 'http://127.0.0.1:8234'),
      namespaceProvider: namespaceProviderFrom(env, regionRegistryFrom(env)),
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
      metricsPort: env.TAVIO_METRICS_PORT || '0',
      metricsHost: env.TAVIO_METRICS_HOST || '127.0.0.1',
    },
    'control API',
  );
}

/**
 * The migrate command's configuration: `TAVIO_DATABASE_MIGRATION_URL`, else `TAVIO_DATABASE_URL`.
 * It reads no Temporal, AWS or API setting, so a migrate job needs only the database's URL.
 */
export function loadMigrationConfig(env: Env = process.env): MigrationConfig {
  const variable = env.TAVIO_DATABASE_MIGRATION_URL ? 'TAVIO_DATABASE_MIGRATION_URL' : 'TAVIO_DATABASE_URL';
  return parseOrExit(
    migrationSchema(variable),
    { databaseMigrationUrl: env.TAVIO_DATABASE_MIGRATION_URL || env.TAVIO_DATABASE_URL || undefined },
    'migrate',
  );
}

const regionHostFields = sharedSchema.extend({
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
  /** Where the host's `GET /metrics` (its own and its workers' runtime metrics) listens; none when 0 or unset. */
  metricsPort: z.coerce.number().int().min(0).max(65535),
  metricsHost: z.string().min(1),
});
/**
 * A region host hands its Temporal credentials to every environment worker it runs. Tavio's tokens
 * are signed per namespace; a static API key or client certificate is not, so under `static` one
 * compromised worker could act in every environment's namespace.
 */
const regionHostSchema = regionHostFields.superRefine((config, ctx) => {
  if (config.temporal.auth === 'static')
    ctx.addIssue({
      code: 'custom',
      path: ['temporal'],
      message:
        'TAVIO_TEMPORAL_AUTH=static is refused on a region host: its workers would all share the deployment-wide Temporal API key or client certificate, which acts in every namespace, and per-namespace worker credentials are not built; use tavio-tokens (README "Temporal anywhere")',
    });
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
      metricsPort: env.TAVIO_HOST_METRICS_PORT || '0',
      metricsHost: env.TAVIO_HOST_METRICS_HOST || '127.0.0.1',
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
  /** Temporal's address, TLS and authorization mode. Its secrets come over IPC. */
  temporal: temporalEndpointSchema,
  payloadLimitBytes: z.number().int(),
  responseLimitBytes: responseLimitBytesSchema,
  logLevel: sharedSchema.shape.logLevel,
  workflowBundlePath: z.string(),
  hostId: z.string(),
  /** Whether the worker hands its Temporal runtime's metrics to its host over IPC. */
  runtimeMetrics: z.boolean().optional(),
  /** Whether the worker traces, handing its spans to its host over IPC. */
  traces: z.boolean().optional(),
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
