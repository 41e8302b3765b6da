import { sql } from 'drizzle-orm';
import {
  bigserial,
  index,
  jsonb,
  pgEnum,
  pgTable,
  text,
  timestamp,
  uniqueIndex,
  uuid,
  integer,
  bigint,
  boolean,
  primaryKey,
} from 'drizzle-orm/pg-core';

/** The control database: metadata only. No customer record, file content or credential is ever stored here. */

export const regionEnum = pgEnum('region', ['us', 'ca', 'eu']);
export const environmentStatusEnum = pgEnum('environment_status', [
  'provisioning',
  'active',
  'failed',
  'retiring',
  'retired',
]);
export const apiKeyKindEnum = pgEnum('api_key_kind', ['operator', 'organization', 'environment', 'host']);
export const runStatusEnum = pgEnum('run_status', [
  'running',
  'completed',
  'failed',
  'canceled',
  'terminated',
  'timed_out',
]);

const createdAt = () => timestamp('created_at', { withTimezone: true }).notNull().defaultNow();

export const organizations = pgTable('organizations', {
  id: uuid('id').primaryKey().defaultRandom(),
  slug: text('slug').notNull().unique(),
  name: text('name').notNull(),
  /** The operator's figures for this organization; a quota not named here is the configured default. */
  quotas: jsonb('quotas').$type<Record<string, number>>(),
  createdAt: createdAt(),
});

/**
 * Fixed-window request counters shared by every control API process (rate limits, failed sign-ins,
 * run starts). Counters are worth nothing after a crash, so the table is unlogged (see its migration).
 */
export const rateLimitCounters = pgTable('rate_limit_counters', {
  key: text('key').primaryKey(),
  count: integer('count').notNull(),
  windowEndsAt: timestamp('window_ends_at', { withTimezone: true }).notNull(),
});

export const environments = pgTable(
  'environments',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    organizationId: uuid('organization_id')
      .notNull()
      .references(() => organizations.id),
    slug: text('slug').notNull(),
    region: regionEnum('region').notNull(),
    namespace: text('namespace').notNull().unique(),
    /**
     * Named `<org>-<env>` before names carried the environment's id; such a namespace stays, since
     * Temporal cannot rename one, and is checked by its old rule.
     */
    legacyNamespace: boolean('legacy_namespace').notNull().default(false),
    awsAccountId: text('aws_account_id').notNull().unique(),
    awsRegion: text('aws_region').notNull(),
    bucket: text('bucket').notNull().unique(),
    keyArn: text('key_arn'),
    dataplaneRoleArn: text('dataplane_role_arn'),
    /** When Tavio registered the namespace itself; a namespace it did not create is never adopted. */
    namespaceRegisteredAt: timestamp('namespace_registered_at', { withTimezone: true }),
    status: environmentStatusEnum('status').notNull().default('provisioning'),
    statusReason: text('status_reason'),
    /**
     * When its region host confirmed that the environment's worker is gone, and what went with it
     * (OS user, network rules, gateway credentials): names and flags, never a secret.
     */
    workerReleasedAt: timestamp('worker_released_at', { withTimezone: true }),
    workerRelease: jsonb('worker_release'),
    /** Why its region host cannot start its worker (the sandbox could not be made...); null once it runs. */
    workerProblem: text('worker_problem'),
    createdAt: createdAt(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('environments_org_slug').on(t.organizationId, t.slug),
    index('environments_region').on(t.region),
  ],
);

export const connections = pgTable(
  'connections',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    environmentId: uuid('environment_id')
      .notNull()
      .references(() => environments.id),
    name: text('name').notNull(),
    kind: text('kind').notNull(),
    baseUrl: text('base_url').notNull(),
    /** Where the sealed credentials live in the environment's bucket; never the credentials. */
    credentialsVersion: integer('credentials_version').notNull().default(1),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex('connections_env_name').on(t.environmentId, t.name)],
);

export const apiKeys = pgTable(
  'api_keys',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    kind: apiKeyKindEnum('kind').notNull(),
    organizationId: uuid('organization_id').references(() => organizations.id),
    environmentId: uuid('environment_id').references(() => environments.id),
    region: regionEnum('region'),
    /** Shown in listings and logs to recognise a key; the secret part is only hashed. */
    prefix: text('prefix').notNull().unique(),
    secretHash: text('secret_hash').notNull(),
    createdAt: createdAt(),
    lastUsedAt: timestamp('last_used_at', { withTimezone: true }),
    expiresAt: timestamp('expires_at', { withTimezone: true }),
    revokedAt: timestamp('revoked_at', { withTimezone: true }),
    /** The key that replaced this one; a key is rotated once. */
    replacedByKeyId: uuid('replaced_by_key_id'),
  },
  (t) => [index('api_keys_org').on(t.organizationId)],
);

export const runs = pgTable(
  'runs',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    environmentId: uuid('environment_id')
      .notNull()
      .references(() => environments.id),
    integration: text('integration').notNull(),
    workflowId: text('workflow_id').notNull().unique(),
    temporalRunId: text('temporal_run_id'),
    idempotencyKey: text('idempotency_key').notNull(),
    /** SHA-256 of the run request, to tell a replayed request from a conflicting one. */
    requestHash: text('request_hash').notNull(),
    status: runStatusEnum('status').notNull().default('running'),
    /** Counts, durations and checksums only. */
    summary: jsonb('summary'),
    failure: text('failure'),
    /** Where the run happened: region, queue, worker hosts, storage and key regions, egress by host. */
    residency: jsonb('residency'),
    createdByKeyId: uuid('created_by_key_id').references(() => apiKeys.id),
    /** The environment's retention policy version when the run started, and its log detail then. */
    retentionPolicyVersion: integer('retention_policy_version'),
    logDetail: text('log_detail'),
    /** The schedule that started the run; null for a run started by API call. Not a foreign key: a schedule may be deleted. */
    scheduleId: uuid('schedule_id'),
    /** The version of the connection pair's field mapping the run used; null for the integration's own mapping. */
    mappingVersion: integer('mapping_version'),
    /** When the webhook deliveries of the run's close were queued; null until then. */
    notifiedAt: timestamp('notified_at', { withTimezone: true }),
    createdAt: createdAt(),
    closedAt: timestamp('closed_at', { withTimezone: true }),
  },
  (t) => [
    uniqueIndex('runs_env_idempotency').on(t.environmentId, t.idempotencyKey),
    index('runs_env_created').on(t.environmentId, t.createdAt),
  ],
);

/** Append-only: a trigger in the migrations refuses UPDATE and DELETE. */
export const auditLog = pgTable(
  'audit_log',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    at: timestamp('at', { withTimezone: true })
      .notNull()
      .default(sql`now()`),
    actorKeyId: uuid('actor_key_id'),
    action: text('action').notNull(),
    organizationId: uuid('organization_id'),
    environmentId: uuid('environment_id'),
    target: text('target'),
    details: jsonb('details'),
  },
  (t) => [index('audit_log_org').on(t.organizationId, t.at)],
);

/**
 * Keys that sign the tokens Temporal authorizes calls with (ES256). The public halves are served as
 * the JWKS Temporal reads; a key is published before it signs and stays published until every token
 * it signed has expired, so rotation needs no restart.
 */
export const temporalSigningKeys = pgTable('temporal_signing_keys', {
  kid: text('kid').primaryKey(),
  /** PKCS#8 PEM of the private key: a platform secret, never a customer's. */
  privateKey: text('private_key').notNull(),
  publicJwk: jsonb('public_jwk').notNull(),
  createdAt: createdAt(),
  /** Tokens are signed with the newest key whose activation has come. */
  activatesAt: timestamp('activates_at', { withTimezone: true }).notNull(),
  /** Unpublished from then on; set when a newer key activates. */
  retiresAt: timestamp('retires_at', { withTimezone: true }),
});

/** Signed-in Web UI sessions: the cookie carries the id and a secret whose hash is kept here. */
export const webUiSessions = pgTable('web_ui_sessions', {
  id: uuid('id').primaryKey().defaultRandom(),
  secretHash: text('secret_hash').notNull(),
  keyId: uuid('key_id')
    .notNull()
    .references(() => apiKeys.id),
  createdAt: createdAt(),
  expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
});

/**
 * Each environment's Temporal payload data key, wrapped by the control plane's payload key in the
 * environment's AWS region and bound to the environment by encryption context. Deleting the row at
 * retirement leaves the environment's Temporal histories unreadable.
 */
export const payloadKeys = pgTable('payload_keys', {
  id: uuid('id').primaryKey().defaultRandom(),
  environmentId: uuid('environment_id')
    .notNull()
    .unique()
    .references(() => environments.id),
  kmsKeyArn: text('kms_key_arn').notNull(),
  /** The KMS ciphertext of the data key; the plaintext is never stored. */
  wrappedKey: text('wrapped_key').notNull(),
  createdAt: createdAt(),
});

export const logDetailEnum = pgEnum('log_detail', ['metadata', 'records']);

/**
 * An environment's retention policy, one row per version; the newest version is in force. Version 0
 * is the defaults, never stored. A version is never changed: a change inserts the next one.
 */
export const retentionPolicies = pgTable(
  'retention_policies',
  {
    environmentId: uuid('environment_id')
      .notNull()
      .references(() => environments.id),
    version: integer('version').notNull(),
    tmpBufferHours: integer('tmp_buffer_hours').notNull(),
    transferredFileDays: integer('transferred_file_days').notNull(),
    quarantineDays: integer('quarantine_days').notNull(),
    runLogDays: integer('run_log_days').notNull(),
    historyDays: integer('history_days').notNull(),
    runLogDetail: logDetailEnum('run_log_detail').notNull(),
    createdByKeyId: uuid('created_by_key_id').references(() => apiKeys.id),
    createdAt: createdAt(),
  },
  (t) => [primaryKey({ columns: [t.environmentId, t.version] })],
);

export const deletionKindEnum = pgEnum('deletion_kind', ['sweep', 'retirement']);

/**
 * What a retention sweep or a retirement destroyed in an environment's bucket: counts, bytes,
 * prefixes and times, never an object's name. Append-only, like the audit log.
 */
export const deletionReceipts = pgTable(
  'deletion_receipts',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    environmentId: uuid('environment_id')
      .notNull()
      .references(() => environments.id),
    kind: deletionKindEnum('kind').notNull(),
    /** The sweep's workflow execution, or the retirement: one receipt each. */
    source: text('source').notNull().unique(),
    policyVersion: integer('policy_version'),
    startedAt: timestamp('started_at', { withTimezone: true }).notNull(),
    finishedAt: timestamp('finished_at', { withTimezone: true }).notNull(),
    objectsDeleted: integer('objects_deleted').notNull(),
    bytesDeleted: bigint('bytes_deleted', { mode: 'number' }).notNull(),
    /** Per prefix: objects, bytes, the cutoff applied, and the oldest and newest object deleted. */
    prefixes: jsonb('prefixes').notNull(),
    /** False when a prefix could not be swept to its end; what was deleted is still counted. */
    complete: boolean('complete').notNull(),
    createdAt: createdAt(),
  },
  (t) => [index('deletion_receipts_env').on(t.environmentId, t.finishedAt)],
);

/**
 * An environment's schedules: what each starts (an integration, its connections and options) and
 * when. The schedule itself is a Temporal Schedule in the environment's namespace; this row is its
 * metadata, so that the control API can list, validate and audit it.
 */
export const schedules = pgTable(
  'schedules',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    environmentId: uuid('environment_id')
      .notNull()
      .references(() => environments.id),
    name: text('name').notNull(),
    integration: text('integration').notNull(),
    connections: jsonb('connections').$type<Record<string, string>>().notNull(),
    options: jsonb('options').$type<Record<string, unknown>>().notNull(),
    /** A cron expression or an interval in seconds, with the IANA time zone it is read in. */
    spec: jsonb('spec').$type<{ cron?: string; intervalSeconds?: number; timeZone: string }>().notNull(),
    overlapPolicy: text('overlap_policy').notNull(),
    catchupWindowSeconds: integer('catchup_window_seconds').notNull(),
    paused: boolean('paused').notNull().default(false),
    /** The Temporal Schedule's id in the environment's namespace. */
    temporalScheduleId: text('temporal_schedule_id').notNull().unique(),
    createdByKeyId: uuid('created_by_key_id').references(() => apiKeys.id),
    createdAt: createdAt(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [uniqueIndex('schedules_env_name').on(t.environmentId, t.name)],
);

/**
 * A connection pair's declared field mapping, one row per version; the newest version is in force.
 * Canonical field -> source path and transforms: names and rules, never a record's values.
 */
export const fieldMappings = pgTable(
  'field_mappings',
  {
    environmentId: uuid('environment_id')
      .notNull()
      .references(() => environments.id),
    sourceConnectionId: uuid('source_connection_id')
      .notNull()
      .references(() => connections.id),
    destinationConnectionId: uuid('destination_connection_id')
      .notNull()
      .references(() => connections.id),
    version: integer('version').notNull(),
    fields: jsonb('fields').notNull(),
    createdByKeyId: uuid('created_by_key_id').references(() => apiKeys.id),
    createdAt: createdAt(),
  },
  (t) => [primaryKey({ columns: [t.sourceConnectionId, t.destinationConnectionId, t.version] })],
);

/**
 * An environment's webhook endpoints: where its client apps hear of runs and schedules. The
 * signing secret is sealed in the environment's bucket, like a connection's credentials.
 */
export const webhookEndpoints = pgTable(
  'webhook_endpoints',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    environmentId: uuid('environment_id')
      .notNull()
      .references(() => environments.id),
    url: text('url').notNull(),
    events: jsonb('events').$type<string[]>().notNull(),
    description: text('description'),
    /** Bumped by each rotation of the signing secret. */
    secretVersion: integer('secret_version').notNull().default(1),
    createdByKeyId: uuid('created_by_key_id').references(() => apiKeys.id),
    createdAt: createdAt(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
    deletedAt: timestamp('deleted_at', { withTimezone: true }),
  },
  (t) => [index('webhook_endpoints_env').on(t.environmentId)],
);

export const webhookDeliveryStatusEnum = pgEnum('webhook_delivery_status', [
  'queued',
  'delivering',
  'delivered',
  'failed',
]);

/**
 * One event sent to one endpoint: its metadata-only payload, and each attempt's status code and
 * latency. Rows are queued in the transaction of the change they report (an outbox); a durable
 * workflow in the environment's namespace delivers each.
 */
export const webhookDeliveries = pgTable(
  'webhook_deliveries',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    endpointId: uuid('endpoint_id')
      .notNull()
      .references(() => webhookEndpoints.id),
    environmentId: uuid('environment_id')
      .notNull()
      .references(() => environments.id),
    event: text('event').notNull(),
    /** The event's own id (`webhook-id`): the same for a redelivery, so receivers can deduplicate. */
    eventId: text('event_id').notNull(),
    payload: jsonb('payload').notNull(),
    workflowId: text('workflow_id').notNull().unique(),
    status: webhookDeliveryStatusEnum('status').notNull().default('queued'),
    attempts: jsonb('attempts')
      .$type<Array<{ at: string; statusCode: number | null; latencyMs: number; error: string | null }>>()
      .notNull()
      .default([]),
    /** The delivery this one repeats, for a redelivery. */
    redeliveryOf: uuid('redelivery_of'),
    createdAt: createdAt(),
    completedAt: timestamp('completed_at', { withTimezone: true }),
  },
  (t) => [
    uniqueIndex('webhook_deliveries_first')
      .on(t.endpointId, t.eventId)
      .where(sql`redelivery_of IS NULL`),
    index('webhook_deliveries_env').on(t.environmentId, t.createdAt),
    index('webhook_deliveries_status').on(t.status),
  ],
);
