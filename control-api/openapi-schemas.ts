import { z } from 'zod';
import { CONNECTION_KINDS } from '../common/connections.js';
import { LOG_DETAILS } from '../common/log-detail.js';
import { regionCodeSchema } from '../common/regions.js';
import { declaredFieldsSchema } from '../integrations/hris-employee-sync/declared-mapping.js';
import { WEBHOOK_EVENTS } from '../common/webhooks.js';
import { workerReleaseSchema } from './provisioning/worker-release.js';
import { OVERLAP_POLICIES } from './schedule-spec.js';
import { apiKeyKindEnum, deletionKindEnum, environmentStatusEnum, runStatusEnum } from '../db/schema.js';

/**
 * What each operation answers on success, field by field as its view builds it. Responses are
 * serialized through these schemas: a field missing or of another type answers 500, and a field
 * not named here is left out, so each one follows its view exactly.
 */

/** An ISO 8601 time, as `Date.toISOString` writes it. */
const time = z.string().meta({ format: 'date-time' });
const count = z.number().int().min(0);

export const organizationSchema = z
  .object({
    id: z.guid(),
    slug: z.string(),
    name: z.string(),
    createdAt: time,
  })
  .meta({ id: 'Organization' });

const keyFields = {
  id: z.guid(),
  kind: z.enum(apiKeyKindEnum.enumValues),
  prefix: z.string().describe('The public part of the key: tav_<kind>_<id>'),
  status: z.enum(['active', 'rotated', 'revoked', 'expired']),
  organizationId: z.guid().nullable(),
  environmentId: z.guid().nullable(),
  region: regionCodeSchema.nullable(),
  createdAt: time,
  lastUsedAt: time.nullable(),
  expiresAt: time.nullable(),
  revokedAt: time.nullable(),
  replacedBy: z.guid().nullable().describe('The key that replaced this one when it was rotated'),
};

/** A key as listed: never its secret. */
export const apiKeySchema = z.object(keyFields).meta({ id: 'ApiKey' });

/** A key just issued: its secret is shown this once. */
export const issuedApiKeySchema = z
  .object({ ...keyFields, key: z.string().describe('The key itself, shown once: tav_<kind>_<id>_<secret>') })
  .meta({ id: 'IssuedApiKey' });

export const createdOrganizationSchema = z.object({
  organization: organizationSchema,
  apiKey: issuedApiKeySchema,
});

export const apiKeyListSchema = z.object({ apiKeys: z.array(apiKeySchema) });

const quotaFigures = z.object({
  environments: count,
  connections: count,
  runsPerMinute: count,
  concurrentRunsPerEnvironment: count,
  schedulesPerEnvironment: count,
  webhookEndpointsPerEnvironment: count,
});

export const quotasViewSchema = z
  .object({
    organization: z.string(),
    quotas: quotaFigures.describe("The quotas in force: the operator's figures over the defaults"),
    overrides: z
      .record(z.string(), z.number())
      .describe('The figures the operator set for this organization'),
    usage: z.object({ environments: count, connections: count, runsThisMinute: count }),
  })
  .meta({ id: 'OrganizationQuotas' });

export const environmentSchema = z
  .object({
    id: z.guid(),
    organization: z.string(),
    slug: z.string(),
    region: regionCodeSchema,
    taskQueue: z.string(),
    namespace: z.string(),
    awsRegion: z.string(),
    awsAccountId: z.string(),
    bucket: z.string(),
    keyArn: z.string().nullable(),
    status: z.enum(environmentStatusEnum.enumValues),
    statusReason: z.string().nullable(),
    createdAt: time,
  })
  .meta({ id: 'Environment' });

export const environmentListSchema = z.object({ environments: z.array(environmentSchema) });

/** What a sweep or a retirement deleted under one prefix of the bucket; never an object's name. */
const prefixSweepSchema = z.looseObject({
  prefix: z.string(),
  olderThan: z.string(),
  objects: count,
  bytes: count,
  uploadsAborted: count,
  oldest: z.string().nullable(),
  newest: z.string().nullable(),
  complete: z.boolean(),
});

export const retirementSchema = z.object({
  environment: environmentSchema,
  receipt: z
    .looseObject({
      namespace: z.string(),
      bucket: z.string(),
      objectsDeleted: count,
      bytesDeleted: count,
      prefixes: z.array(prefixSweepSchema),
      keyArn: z.string().nullable(),
      keyDisabled: z.boolean(),
      keyDeletionDate: z.string().nullable(),
      dataplaneRoleDeleted: z.boolean(),
      payloadKeyDestroyed: z.boolean(),
      apiKeysRevoked: count,
      runsCanceled: count,
      schedulesDeleted: count,
      webhookEndpointsDeleted: count,
      webhookDeliveriesStopped: count,
      connectionsDeleted: count,
      worker: z
        .discriminatedUnion('confirmed', [
          z.object({ confirmed: z.literal(true), at: z.string(), ...workerReleaseSchema.shape }),
          z.object({ confirmed: z.literal(false) }),
        ])
        .describe(
          'Its worker, as its region host confirmed it stopped; confirmed: false when no confirmation came in time',
        ),
      retiredAt: z.string(),
    })
    .meta({ id: 'RetirementReceipt', description: 'What retiring the environment destroyed' }),
});

export const connectionSchema = z
  .object({
    id: z.guid(),
    name: z.string(),
    kind: z.enum(CONNECTION_KINDS),
    baseUrl: z.string(),
    credentialsVersion: z.number().int(),
    createdAt: time,
  })
  .meta({ id: 'Connection', description: 'A connection: its credentials are never returned' });

export const connectionListSchema = z.object({ connections: z.array(connectionSchema) });

export const runSchema = z
  .object({
    id: z.guid(),
    integration: z.string(),
    status: z.enum(runStatusEnum.enumValues),
    idempotencyKey: z.string(),
    namespace: z.string(),
    taskQueue: z.string(),
    region: regionCodeSchema,
    workflowId: z.string(),
    runId: z.string().nullable().describe("The Temporal run id of the workflow's first execution"),
    webUiUrl: z.string(),
    summary: z
      .record(z.string(), z.unknown())
      .nullable()
      .describe('Counts, durations and checksums, once the run completed'),
    failure: z.string().nullable(),
    waitingFor: z.string().nullable().describe('Why a running run makes no progress (read one run)'),
    createdAt: time,
    closedAt: time.nullable(),
    retentionPolicyVersion: z.number().int().nullable(),
    logDetail: z.enum(LOG_DETAILS).nullable(),
    scheduleId: z
      .guid()
      .nullable()
      .describe('The schedule that started the run; null for a run started by API call'),
    mappingVersion: z
      .number()
      .int()
      .nullable()
      .describe(
        "The version of the connection pair's declared mapping the run carried; null: the fixed mapping",
      ),
  })
  .meta({ id: 'Run' });

export const runListSchema = z.object({ runs: z.array(runSchema) });

export const fieldMappingSchema = z
  .object({
    source: z.guid().describe('The source connection'),
    destination: z.guid().describe('The destination connection'),
    version: z.number().int().min(1),
    fields: declaredFieldsSchema,
    createdAt: time,
  })
  .meta({ id: 'FieldMapping', description: "A version of a connection pair's declared field mapping" });

export const fieldMappingListSchema = z.object({ mappings: z.array(fieldMappingSchema) });

export const residencySchema = z
  .looseObject({
    runId: z.string(),
    workflowId: z.string(),
    namespace: z.string(),
    region: z.string(),
    gateway: z.string(),
    taskQueue: z.string(),
    workerHosts: z.array(z.string()),
    storage: z.looseObject({ bucket: z.string(), awsRegion: z.string() }),
    key: z.looseObject({ arn: z.string().nullable(), awsRegion: z.string().nullable() }),
    egress: z
      .looseObject({
        source: z.enum(['gateway', 'worker']),
        requests: count,
        hosts: z.record(z.string(), z.number()),
      })
      .nullable()
      .describe('Requests the run sent, by host (source: gateway or worker)'),
    final: z.boolean(),
  })
  .meta({ id: 'RunResidency', description: 'Where a run happened' });

export const runProgressSchema = z
  .object({
    runId: z.guid(),
    integration: z.string(),
    status: z.enum(runStatusEnum.enumValues),
    progress: z
      .record(z.string(), count)
      .nullable()
      .describe(
        "Counts by name (pages, recordsRead, recordsWritten, recordsSkipped, ...): from the workflow's progress query while it runs, from its summary once it closed; null when none is known",
      ),
    source: z.enum(['workflow', 'summary']).nullable().describe('Where the counts come from'),
    unavailableReason: z.string().nullable().describe('Why progress is null'),
    waitingFor: z.string().nullable().describe('Why a running run makes no progress'),
    startedAt: time,
    closedAt: time.nullable(),
    elapsedMs: count,
  })
  .meta({ id: 'RunProgress', description: "A run's progress: counts and times, never records" });

export const logTokenSchema = z.object({
  url: z.string().describe("Where the run's log is read, in its region's data plane"),
  token: z.string(),
  expiresAt: time,
});

const policyFields = {
  version: z.number().int().min(0),
  tmpBufferHours: z.number().int(),
  transferredFileDays: z.number().int(),
  quarantineDays: z.number().int(),
  runLogDays: z.number().int(),
  historyDays: z.number().int(),
  runLogDetail: z.enum(LOG_DETAILS),
  createdAt: time.nullable().describe('Null for version 0, the defaults'),
  createdByKeyId: z.guid().nullable(),
};

export const retentionPolicySchema = z.object(policyFields).meta({ id: 'RetentionPolicy' });

const bound = z.object({ min: z.number(), max: z.number(), default: z.number(), unitMs: z.number() });

export const retentionInForceSchema = z.object({
  ...policyFields,
  bounds: z.object({
    tmpBufferHours: bound,
    transferredFileDays: bound,
    quarantineDays: bound,
    runLogDays: bound,
    historyDays: bound,
  }),
});

export const retentionStoredSchema = z.object({ ...policyFields, createdAt: time });

export const retentionVersionsSchema = z.object({ versions: z.array(retentionPolicySchema) });

export const sweepStartedSchema = z.object({ policyVersion: z.number().int().min(0) });

export const deletionReceiptSchema = z
  .object({
    id: z.guid(),
    kind: z.enum(deletionKindEnum.enumValues),
    policyVersion: z.number().int().nullable(),
    startedAt: time,
    finishedAt: time,
    objectsDeleted: count,
    bytesDeleted: count,
    prefixes: z.array(prefixSweepSchema),
    complete: z.boolean(),
  })
  .meta({ id: 'DeletionReceipt' });

export const deletionReceiptListSchema = z.object({ receipts: z.array(deletionReceiptSchema) });

export const egressDecisionSchema = z.object({ allow: z.boolean(), reason: z.string() });

export const recordedSchema = z.object({ recorded: z.literal(true) });

export const regionEnvironmentListSchema = z.object({
  environments: z.array(
    z.object({
      id: z.guid(),
      organization: z.string(),
      environment: z.string(),
      region: regionCodeSchema,
      namespace: z.string(),
      legacyNamespace: z.boolean(),
      taskQueue: z.string(),
      bucket: z.string(),
      keyArn: z.string().nullable(),
      awsRegion: z.string(),
      dataplaneRoleArn: z.string().nullable(),
      work: z.object({ runningRuns: count, backlog: z.boolean() }),
    }),
  ),
});

export const signingKeyRotationSchema = z.object({
  kid: z.string(),
  activatesAt: time,
  previousKeysRetireAt: time,
});

export const workerTokenSchema = z.object({ token: z.string(), expiresAt: time });

export const payloadKeySchema = z.object({
  id: z.guid(),
  key: z.string().describe('The data key, base64'),
});

export const temporalTokenSchema = z.object({
  token: z.string(),
  expiresAt: time,
  role: z.enum(['read', 'admin']),
  namespaces: z.array(z.string()),
});

const webhookEndpointFields = {
  id: z.guid(),
  url: z.string(),
  events: z.array(z.enum(WEBHOOK_EVENTS)),
  description: z.string().nullable(),
  secretVersion: z.number().int().min(1).describe('Bumped by each rotation of the signing secret'),
  createdAt: time,
  updatedAt: time,
  deletedAt: time.nullable(),
};

/** An endpoint as listed: never its signing secret. */
export const webhookEndpointSchema = z.object(webhookEndpointFields).meta({ id: 'WebhookEndpoint' });

/** An endpoint with its new signing secret, shown this once (create, rotation, a new URL). */
export const webhookEndpointWithSecretSchema = z
  .object({
    ...webhookEndpointFields,
    secret: z
      .string()
      .describe('The signing secret, shown once: whsec_<base64 of 32 bytes> (Standard Webhooks)'),
  })
  .meta({ id: 'WebhookEndpointWithSecret' });

/** An endpoint after a change: with a new secret when its URL changed (a secret is sealed for its host). */
export const updatedWebhookEndpointSchema = z
  .object({ ...webhookEndpointFields, secret: z.string().optional() })
  .meta({ id: 'UpdatedWebhookEndpoint' });

export const webhookEndpointListSchema = z.object({ endpoints: z.array(webhookEndpointSchema) });

export const webhookDeliverySchema = z
  .object({
    id: z.guid(),
    endpointId: z.guid(),
    event: z.enum(WEBHOOK_EVENTS),
    eventId: z.string().describe('webhook-id: the same for a redelivery'),
    status: z.enum(['queued', 'delivering', 'delivered', 'failed']),
    payload: z.object({
      type: z.enum(WEBHOOK_EVENTS),
      timestamp: time,
      data: z.record(z.string(), z.unknown()).describe('Identifiers, status, counts and links only'),
    }),
    attempts: z.array(
      z.object({
        at: time,
        statusCode: z.number().int().nullable(),
        latencyMs: count,
        error: z.string().nullable(),
      }),
    ),
    redeliveryOf: z.guid().nullable(),
    createdAt: time,
    completedAt: time.nullable(),
  })
  .meta({ id: 'WebhookDelivery' });

export const webhookDeliveryListSchema = z.object({ deliveries: z.array(webhookDeliverySchema) });

const overlapPolicySchema = z.enum(OVERLAP_POLICIES);

const scheduleFields = {
  id: z.guid(),
  name: z.string(),
  integration: z.string(),
  connections: z.record(z.string(), z.string()).describe('Connection ids by role'),
  options: z.record(z.string(), z.unknown()),
  cron: z.string().nullable().describe('5 fields: minute hour day-of-month month day-of-week'),
  intervalSeconds: z.number().int().nullable(),
  timeZone: z.string().describe('The IANA time zone the cron expression is read in'),
  overlapPolicy: overlapPolicySchema,
  catchupWindowSeconds: z.number().int(),
  paused: z.boolean(),
  namespace: z.string(),
  temporalScheduleId: z.string().describe('The Temporal Schedule in the environment namespace'),
  webUiUrl: z.string(),
  createdAt: time,
  updatedAt: time,
};

export const scheduleSchema = z.object(scheduleFields).meta({ id: 'Schedule' });

export const scheduleDetailSchema = z
  .object({
    ...scheduleFields,
    temporal: z
      .object({
        paused: z.boolean(),
        note: z.string().nullable(),
        nextActionTimes: z.array(time),
        recentActions: z.array(z.object({ scheduledAt: time, takenAt: time, workflowId: z.string() })),
        runningWorkflowIds: z.array(z.string()),
        actionsTaken: count,
        actionsSkippedOverlap: count,
        actionsMissedCatchupWindow: count,
      })
      .nullable()
      .describe("Temporal's view of the schedule; null when Temporal has no such schedule"),
  })
  .meta({ id: 'ScheduleDetail' });

export const scheduleListSchema = z.object({ schedules: z.array(scheduleSchema) });

export const scheduleTriggeredSchema = z.object({
  scheduleId: z.guid(),
  overlapPolicy: overlapPolicySchema,
  triggeredAt: time,
});

export const scheduleBackfillSchema = z.object({
  scheduleId: z.guid(),
  startAt: time,
  endAt: time,
  overlapPolicy: overlapPolicySchema,
  runs: count.describe('How many times of the schedule fall in the range: the runs the backfill starts'),
});
