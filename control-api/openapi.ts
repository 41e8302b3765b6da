import type { SwaggerTransform, SwaggerTransformObject } from '@fastify/swagger';
import { jsonSchemaTransform, jsonSchemaTransformObject } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Problem } from './problems.js';
import { problemType } from './problems.js';

/**
 * The OpenAPI document: version 3.1 (its schemas are JSON Schema 2020-12), every operation with
 * an id, tags, its responses and the problem types each status can carry, and links from the
 * operations that create ids to those that take them.
 */
export const OPENAPI_VERSION = '3.1.0';

export const TAGS = [
  { name: 'organizations', description: 'Organizations and their first admin key' },
  { name: 'quotas', description: "An organization's quotas and usage" },
  { name: 'environments', description: 'Environments pinned to a region: provisioning and retirement' },
  { name: 'api-keys', description: 'Keys of every kind: issued, listed, rotated and revoked' },
  { name: 'connections', description: "An environment's connections; credentials are write-only" },
  { name: 'runs', description: 'Integration runs, their residency and their logs' },
  { name: 'mappings', description: 'Declared field mappings of connection pairs, versioned' },
  { name: 'schedules', description: 'Schedules of runs: Temporal Schedules in the environment namespace' },
  { name: 'retention', description: 'Retention policies, sweeps and deletion receipts' },
  { name: 'webhooks', description: 'Webhook endpoints, signed deliveries and redeliveries' },
  { name: 'regions', description: "What a region's host asks and reports (that region's host key)" },
  { name: 'temporal', description: 'Tokens and keys for Temporal, its CLI and the workers' },
] as const;
export type Tag = (typeof TAGS)[number]['name'];

/** RFC 9457 problem details; members a problem type defines (a quota and its limit) pass through. */
export const problemSchema = z
  .looseObject({
    type: z.string().describe('The problem type: https://tavio.dev/problems/<kind>, stable per kind'),
    title: z.string(),
    status: z.number().int(),
    detail: z.string().optional(),
    errors: z
      .array(z.object({ path: z.string(), message: z.string() }))
      .optional()
      .describe('Where the request does not match its schema (validation-failed)'),
    quota: z.string().optional().describe('The quota refused (quota-exceeded)'),
    limit: z.number().optional().describe("The organization's figure of that quota (quota-exceeded)"),
  })
  .meta({
    id: 'Problem',
    description: 'An RFC 9457 problem document (application/problem+json)',
  });

/** Every problem the API sends is a problem document of this schema. */
export const problemDocument = (problem: Problem): z.input<typeof problemSchema> => ({ ...problem });

/** Each problem kind a /v1 operation can answer, with its title. */
export const PROBLEM_KINDS = {
  'validation-failed': 'Invalid request',
  'malformed-request': 'Malformed request',
  unauthorized: 'Unauthorized',
  forbidden: 'Forbidden',
  'quota-exceeded': 'Quota exceeded',
  'not-found': 'Not found',
  'body-too-large': 'Request body too large',
  'unsupported-media-type': 'Unsupported media type',
  'rate-limited': 'Too many requests',
  'authentication-throttled': 'Too many requests',
  'duplicate-slug': 'Conflict',
  'region-immutable': 'Conflict',
  'environment-retiring': 'Conflict',
  'provisioning-in-progress': 'Conflict',
  'already-retired': 'Conflict',
  'environment-retired': 'Conflict',
  'redelivery-in-progress': 'Conflict',
  'environment-not-active': 'Conflict',
  'already-revoked': 'Conflict',
  'already-rotated': 'Conflict',
  'last-operator-key': 'Conflict',
  'duplicate-connection': 'Conflict',
  'idempotency-key-reused': 'Conflict',
  'stale-policy-version': 'Conflict',
  'duplicate-schedule': 'Conflict',
  'schedule-changed': 'Conflict',
  'backfill-overlaps-runs': 'Conflict',
  'connection-scheme-mismatch': 'Unprocessable request',
  'connection-host-refused': 'Unprocessable request',
  'invalid-credentials': 'Unprocessable request',
  'unknown-integration': 'Unprocessable request',
  'invalid-options': 'Unprocessable request',
  'unknown-connection-role': 'Unprocessable request',
  'missing-connection': 'Unprocessable request',
  'unknown-connection': 'Unprocessable request',
  'wrong-connection-kind': 'Unprocessable request',
  'invalid-cron': 'Unprocessable request',
  'unknown-time-zone': 'Unprocessable request',
  'interval-below-minimum': 'Unprocessable request',
  'invalid-schedule-timing': 'Unprocessable request',
  'invalid-backfill-range': 'Unprocessable request',
  'invalid-backfill-policy': 'Unprocessable request',
  'invalid-mapping': 'Unprocessable request',
  'webhook-url-refused': 'Unprocessable request',
  'provisioning-failed': 'Provisioning failed',
  'retirement-failed': 'Retirement failed',
  'retention-not-applied': 'Retention policy not applied',
  'environment-not-created': 'Environment not created',
  'account-pool-exhausted': 'No environment account available',
  'database-unavailable': 'Service unavailable',
} as const;
export type ProblemKind = keyof typeof PROBLEM_KINDS;

const STATUS_MEANING = {
  400: 'The request does not match its schema, or cannot be read',
  401: 'No API key, or one that is malformed, unknown, revoked or expired',
  403: 'The key may not do this, or a quota leaves no room',
  404: 'Not found, or not visible to this key',
  409: 'The current state does not allow it',
  413: 'The request body is too large',
  415: 'The request body is not application/json',
  422: 'The request is well formed but cannot be carried out',
  429: 'Too many requests; wait for Retry-After',
  502: "A step in the environment's cloud account or in Temporal failed; repeat the request",
  503: 'Not available now; repeat the request',
} as const;
export type ProblemStatus = keyof typeof STATUS_MEANING;

/** Members of a problem type beyond RFC 9457's, as its examples show them. */
const EXAMPLE_EXTENSIONS: Partial<Record<ProblemKind, Partial<Record<ProblemStatus, object>>>> = {
  'quota-exceeded': {
    403: { quota: 'environments', limit: 20 },
    429: { quota: 'runsPerMinute', limit: 120 },
  },
};

function problemResponse(status: ProblemStatus, kinds: readonly ProblemKind[]) {
  const unique = [...new Set(kinds)];
  return {
    description: `${STATUS_MEANING[status]}. Problem types: ${unique.join(', ')}`,
    content: {
      'application/problem+json': {
        schema: problemSchema,
        examples: Object.fromEntries(
          unique.map((kind) => [
            kind,
            {
              summary: PROBLEM_KINDS[kind],
              value: {
                type: problemType(kind),
                title: PROBLEM_KINDS[kind],
                status,
                ...EXAMPLE_EXTENSIONS[kind]?.[status],
              },
            },
          ]),
        ),
      },
    },
  };
}

/**
 * What an operation takes: nothing but its path (`none`); parameters or a query checked against
 * their schemas (`input`); those and a body checked against its schema (`body`); or a body that is
 * read (POST, PUT, PATCH, DELETE all read one when sent) but has no schema (`unchecked-body`).
 */
export type RequestShape = 'none' | 'input' | 'body' | 'unchecked-body';
type ProblemResponses = Partial<Record<ProblemStatus, ReturnType<typeof problemResponse>>>;

/**
 * The problem responses of a /v1 operation: 401, 429 (rate limits, failed authentications) and 503
 * (the control database away) always; 400 when its input is checked; 400, 413 and 415 when it reads a body; and the statuses
 * and kinds its handler and helpers answer.
 */
export function problemResponses(
  request: RequestShape,
  specific: Partial<Record<ProblemStatus, readonly ProblemKind[]>> = {},
): ProblemResponses {
  const kinds: Partial<Record<ProblemStatus, ProblemKind[]>> = {
    401: ['unauthorized'],
    429: ['rate-limited', 'authentication-throttled'],
    503: ['database-unavailable'],
  };
  if (request === 'input' || request === 'body') kinds[400] = ['validation-failed'];
  if (request === 'body' || request === 'unchecked-body') {
    kinds[400] = [...(kinds[400] ?? []), 'malformed-request'];
    kinds[413] = ['body-too-large'];
    kinds[415] = ['unsupported-media-type'];
  }
  for (const [status, named] of Object.entries(specific) as [`${ProblemStatus}`, ProblemKind[]][]) {
    const code = Number(status) as ProblemStatus;
    kinds[code] = [...(kinds[code] ?? []), ...named];
  }
  const responses: ProblemResponses = {};
  for (const status of Object.keys(kinds).map(Number) as ProblemStatus[]) {
    responses[status] = problemResponse(status, kinds[status]!);
  }
  return responses;
}

/** A success response: its description, and the schema it is serialized through. */
export function jsonResponse<T extends z.ZodType>(description: string, schema: T) {
  return { description, content: { 'application/json': { schema } } };
}

/** An OpenAPI link to the operation `operationId`, its parameters taken from this exchange. */
export function link(operationId: string, parameters: Record<string, string>, description: string) {
  return { operationId, parameters, description };
}

interface ContentResponse {
  content?: Record<string, { schema?: unknown; examples?: unknown }>;
}

/**
 * The zod transform, keeping the examples of each response's media types (the problem kinds an
 * operation answers), which it leaves out.
 */
export const openapiTransform: SwaggerTransform = (input) => {
  const output = jsonSchemaTransform(input as Parameters<typeof jsonSchemaTransform>[0]);
  const given = input.schema?.response as Record<string, ContentResponse> | undefined;
  const made = output.schema.response as Record<string, ContentResponse> | undefined;
  for (const [status, response] of Object.entries(given ?? {})) {
    for (const [mediaType, media] of Object.entries(response.content ?? {})) {
      const target = made?.[status]?.content?.[mediaType];
      if (target && media.examples) target.examples = media.examples;
    }
  }
  return output;
};

/** Collects every `$ref` in a part of the document. */
function refsIn(value: unknown, into: Set<string>): void {
  if (Array.isArray(value)) {
    for (const entry of value) refsIn(entry, into);
  } else if (value !== null && typeof value === 'object') {
    for (const [key, child] of Object.entries(value)) {
      if (key === '$ref' && typeof child === 'string') into.add(child);
      else refsIn(child, into);
    }
  }
}

/**
 * Adds the registered zod schemas as components, and keeps those the operations use (directly or
 * through another component): the transform also makes an input variant of each.
 */
export const openapiTransformObject: SwaggerTransformObject = (input) => {
  const document = jsonSchemaTransformObject(input) as {
    paths?: unknown;
    components?: { schemas?: Record<string, unknown> };
  };
  const schemas = document.components?.schemas ?? {};
  const prefix = '#/components/schemas/';
  const used = new Set<string>();
  const pending = new Set<string>();
  refsIn(document.paths, pending);
  while (pending.size > 0) {
    const [ref] = pending;
    pending.delete(ref!);
    if (used.has(ref!)) continue;
    used.add(ref!);
    if (ref!.startsWith(prefix)) refsIn(schemas[ref!.slice(prefix.length)], pending);
  }
  for (const name of Object.keys(schemas)) {
    if (!used.has(`${prefix}${name}`)) delete schemas[name];
  }
  return document as ReturnType<SwaggerTransformObject>;
};
