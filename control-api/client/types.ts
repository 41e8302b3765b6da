import type { components, operations } from './schema.js';

/**
 * The client's names for the control API's shapes, each taken from the generated contract
 * (schema.d.ts, from openapi/openapi.json): a request body or a response of an operation, or one
 * of the document's schemas.
 */

type Schemas = components['schemas'];

/** The JSON body an operation takes. */
export type RequestOf<O extends keyof operations> =
  NonNullable<operations[O]['requestBody']> extends { content: { 'application/json': infer B } } ? B : never;

/** The JSON body an operation answers with a status. */
export type ResponseOf<
  O extends keyof operations,
  S extends keyof operations[O]['responses'],
> = operations[O]['responses'][S] extends { content: { 'application/json': infer B } } ? B : never;

/** An RFC 9457 problem document: what every refused request answers. */
export type Problem = Schemas['Problem'];

export type Organization = Schemas['Organization'];
export type CreatedOrganization = ResponseOf<'createOrganization', 201>;
export type OrganizationQuotas = Schemas['OrganizationQuotas'];
export type Quotas = OrganizationQuotas['quotas'];
/** Operator key only; null returns a quota to the default. */
export type QuotaChanges = RequestOf<'updateQuotas'>;

export type Environment = Schemas['Environment'];
export type Retirement = ResponseOf<'retireEnvironment', 200>;
export type RetirementReceipt = Schemas['RetirementReceipt'];

export type ApiKey = Schemas['ApiKey'];
/** A key just issued (or rotated), with its secret (`key`) shown this once. */
export type IssuedKey = Schemas['IssuedApiKey'];
export type NewKeyOptions = RequestOf<'createOrganizationApiKey'>;
export type RotateOptions = RequestOf<'rotateOrganizationApiKey'>;
export type PlatformKeyKind = NonNullable<
  NonNullable<operations['listPlatformApiKeys']['parameters']['query']>['kind']
>;

export type Connection = Schemas['Connection'];
export type CreateConnectionRequest = RequestOf<'createConnection'>;

export type Run = Schemas['Run'];
export type RunStatus = Run['status'];
export type CreateRunRequest = RequestOf<'createRun'>;
export type Residency = Schemas['RunResidency'];
/** Counts and elapsed time of a run: from its workflow while it runs, from its summary once closed. */
export type RunProgress = Schemas['RunProgress'];
/** Where and with what to read a run's log: its region's data plane, a token of a few minutes. */
export type LogGrant = ResponseOf<'createRunLogToken', 201>;

export type FieldMapping = Schemas['FieldMapping'];
export type SaveMappingRequest = RequestOf<'saveMapping'>;

/** A token for the standard Temporal CLI and SDKs (`--api-key`), limited to the caller's namespaces. */
export type TemporalToken = ResponseOf<'createTemporalToken', 201>;
export type TemporalTokenRequest = RequestOf<'createTemporalToken'>;
export type SigningKeyRotation = ResponseOf<'rotateTemporalSigningKey', 201>;

/** A retention policy as stored: version 0 is the defaults. */
export type RetentionPolicy = Schemas['RetentionPolicy'];
export type RetentionInForce = ResponseOf<'getRetentionPolicy', 200>;
export type RetentionChange = RequestOf<'replaceRetentionPolicy'>;
export type SweepStarted = ResponseOf<'startRetentionSweep', 202>;
export type DeletionReceipt = Schemas['DeletionReceipt'];

/** Where an environment's client apps hear of its runs and schedules; never its signing secret. */
export type WebhookEndpoint = Schemas['WebhookEndpoint'];
/** An endpoint with its signing secret (`whsec_...`), shown this once. */
export type WebhookEndpointWithSecret = Schemas['WebhookEndpointWithSecret'];
/** An endpoint after a change: a new URL comes with a new signing secret, shown once. */
export type UpdatedWebhookEndpoint = Schemas['UpdatedWebhookEndpoint'];
export type WebhookEventName = WebhookEndpoint['events'][number];
export type CreateWebhookEndpointRequest = RequestOf<'createWebhookEndpoint'>;
export type UpdateWebhookEndpointRequest = RequestOf<'updateWebhookEndpoint'>;
export type WebhookDelivery = Schemas['WebhookDelivery'];
export type WebhookAttempt = WebhookDelivery['attempts'][number];

export type Schedule = Schemas['Schedule'];
/** A schedule read alone: with Temporal's view of it (null when Temporal has no such schedule). */
export type ScheduleDetail = Schemas['ScheduleDetail'];
export type OverlapPolicy = Schedule['overlapPolicy'];
export type CreateScheduleRequest = RequestOf<'createSchedule'>;
/** A change of a schedule: giving cron or intervalSeconds replaces its timing. */
export type UpdateScheduleRequest = RequestOf<'updateSchedule'>;
/** When a schedule fires: a 5-field cron expression or an interval (one of them), and its time zone. */
export type ScheduleTiming = Pick<CreateScheduleRequest, 'cron' | 'intervalSeconds' | 'timeZone'>;
export type ScheduleTriggered = ResponseOf<'triggerSchedule', 202>;
export type BackfillRange = RequestOf<'backfillSchedule'>;
export type ScheduleBackfill = ResponseOf<'backfillSchedule', 202>;
