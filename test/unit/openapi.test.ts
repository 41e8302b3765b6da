import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import Fastify from 'fastify';
import type { FastifyInstance } from 'fastify';
import { serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { DEFAULT_RETENTION, RETENTION_BOUNDS } from '../../common/retention.js';
import type {
  apiKeys,
  connections,
  deletionReceipts,
  environments,
  organizations,
  runs,
} from '../../db/schema.js';
import type { ApiDeps } from '../../control-api/deps.js';
import { keyView } from '../../control-api/key-lifecycle.js';
import { buildServicelessApp } from '../../control-api/openapi-app.js';
import { quotaExceeded, quotasOf } from '../../control-api/limits/quotas.js';
import {
  jsonResponse,
  PROBLEM_KINDS,
  problemDocument,
  problemResponses,
  problemSchema,
} from '../../control-api/openapi.js';
import {
  apiKeySchema,
  connectionSchema,
  deletionReceiptSchema,
  environmentSchema,
  issuedApiKeySchema,
  logTokenSchema,
  organizationSchema,
  quotasViewSchema,
  regionEnvironmentListSchema,
  residencySchema,
  retentionInForceSchema,
  retentionStoredSchema,
  retirementSchema,
  runSchema,
} from '../../control-api/openapi-schemas.js';
import { installProblemHandlers, problemType } from '../../control-api/problems.js';
import type { ResidencyRecord } from '../../control-api/run-placement.js';
import { issueLogToken } from '../../control-api/run-logs.js';
import { runDepsOf, runView } from '../../control-api/runs.js';
import type { RetirementReceipt } from '../../control-api/provisioning/retire.js';
import { receiptView } from '../../control-api/retention/receipts.js';
import { connectionView } from '../../control-api/routes/connections.js';
import { environmentView } from '../../control-api/routes/environments.js';
import { orgView } from '../../control-api/routes/organizations.js';

let app: FastifyInstance;
let config: ApiDeps['config'];
let deps: ApiDeps;

interface Operation {
  operationId?: string;
  tags?: string[];
  security?: unknown[];
  parameters?: { name: string; in: string }[];
  requestBody?: unknown;
  responses: Record<
    string,
    {
      description: string;
      content?: Record<string, { schema?: unknown; examples?: Record<string, { value: unknown }> }>;
      links?: Record<string, { operationId?: string; parameters?: Record<string, string> }>;
    }
  >;
}
interface Document {
  openapi: string;
  tags?: { name: string }[];
  security?: unknown[];
  components: { schemas: Record<string, unknown>; securitySchemes: Record<string, unknown> };
  paths: Record<string, Record<string, Operation>>;
}

let document: Document;
let operations: { method: string; path: string; operation: Operation }[];

beforeAll(async () => {
  ({ app, config, deps } = await buildServicelessApp());
  document = app.swagger() as unknown as Document;
  operations = Object.entries(document.paths).flatMap(([path, item]) =>
    Object.entries(item).map(([method, operation]) => ({ method, path, operation })),
  );
});

afterAll(async () => {
  await app.close();
});

function refsIn(value: unknown, into: string[] = []): string[] {
  if (Array.isArray(value)) value.forEach((entry) => refsIn(entry, into));
  else if (value !== null && typeof value === 'object')
    for (const [key, child] of Object.entries(value)) {
      if (key === '$ref' && typeof child === 'string') into.push(child);
      else refsIn(child, into);
    }
  return into;
}

describe('the OpenAPI document', () => {
  it('is OpenAPI 3.1 with a bearer scheme for every operation', () => {
    expect(document.openapi).toMatch(/^3\.1\./);
    expect(document.components.securitySchemes.bearer).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(document.security).toEqual([{ bearer: [] }]);
    expect(operations.length).toBeGreaterThan(30);
    for (const { operation } of operations) expect(operation.security).toBeUndefined();
  });

  it('gives every operation a unique operationId and declared tags', () => {
    const ids = operations.map(({ operation }) => operation.operationId);
    expect(ids.every((id) => typeof id === 'string' && /^[a-z][A-Za-z]+$/.test(id))).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
    const declared = new Set(document.tags?.map((tag) => tag.name));
    for (const { operation } of operations) {
      expect(operation.tags?.length, operation.operationId).toBeGreaterThan(0);
      for (const tag of operation.tags ?? []) expect(declared, operation.operationId).toContain(tag);
    }
  });

  it('gives every operation a success response with its schema', () => {
    for (const { operation } of operations) {
      const success = Object.entries(operation.responses).filter(([status]) => /^2\d\d$/.test(status));
      expect(success.length, operation.operationId).toBeGreaterThan(0);
      for (const [status, response] of success) {
        if (status === '204') continue;
        expect(response.description, operation.operationId).not.toBe('Default Response');
        expect(response.content?.['application/json']?.schema, operation.operationId).toBeDefined();
      }
    }
  });

  it('names the problems of every operation: 401 and 429 on /v1, 400 where it takes input', () => {
    for (const { method, path, operation } of operations) {
      const statuses = Object.keys(operation.responses);
      if (path.startsWith('/v1/'))
        expect(statuses, operation.operationId).toEqual(expect.arrayContaining(['401', '429']));
      if ((operation.parameters?.length ?? 0) > 0 || operation.requestBody || method !== 'get')
        expect(statuses, operation.operationId).toContain('400');
      if (operation.requestBody)
        expect(statuses, operation.operationId).toEqual(expect.arrayContaining(['413', '415']));
      for (const [status, response] of Object.entries(operation.responses)) {
        if (!/^[45]\d\d$/.test(status)) continue;
        const media = response.content?.['application/problem+json'];
        expect(media?.schema, `${operation.operationId} ${status}`).toEqual({
          $ref: '#/components/schemas/Problem',
        });
        const examples = Object.values(media?.examples ?? {});
        expect(examples.length, `${operation.operationId} ${status}`).toBeGreaterThan(0);
        for (const { value } of examples) {
          expect(value).toMatchObject({
            status: Number(status),
            type: expect.stringMatching(/^https:\/\/tavio\.dev\/problems\//),
          });
        }
      }
    }
  });

  it('links the operations that create ids to operations that exist and take those parameters', () => {
    const byId = new Map(operations.map(({ operation }) => [operation.operationId, operation]));
    const linked = new Set<string>();
    for (const { operation } of operations) {
      for (const [status, response] of Object.entries(operation.responses)) {
        for (const [name, link] of Object.entries(response.links ?? {})) {
          expect(status, `${operation.operationId} → ${name}`).toMatch(/^2\d\d$/);
          const target = byId.get(link.operationId);
          expect(target, `${operation.operationId} → ${link.operationId}`).toBeDefined();
          const takes = new Set(target!.parameters?.filter((p) => p.in === 'path').map((p) => p.name));
          expect(new Set(Object.keys(link.parameters ?? {})), `${operation.operationId} → ${name}`).toEqual(
            takes,
          );
          linked.add(`${operation.operationId}→${link.operationId}`);
        }
      }
    }
    expect([...linked]).toEqual(
      expect.arrayContaining([
        'createOrganization→getOrganization',
        'createEnvironment→getEnvironment',
        'createRun→getRun',
        'createRun→cancelRun',
        'createRun→createRunLogToken',
        'createConnection→rotateConnectionCredentials',
        'createOrganizationApiKey→revokeOrganizationApiKey',
        'createEnvironmentApiKey→rotateOrganizationApiKey',
        'createOperatorKey→revokePlatformApiKey',
        'createHostKey→rotatePlatformApiKey',
      ]),
    );
  });

  it('defines every schema it refers to', () => {
    const refs = refsIn(document);
    expect(refs.length).toBeGreaterThan(0);
    for (const ref of refs) {
      expect(ref).toMatch(/^#\/components\/schemas\//);
      expect(document.components.schemas, ref).toHaveProperty([ref.split('/').pop()!]);
    }
  });

  it('leaves out the probes, the document itself and the public JWKS, which needs no key', async () => {
    for (const path of ['/healthz', '/openapi.json', '/.well-known/jwks.json']) {
      expect(document.paths[path]).toBeUndefined();
    }
    expect((await app.inject({ method: 'GET', url: '/healthz' })).json()).toEqual({ status: 'ok' });
    const jwks = await app.inject({ method: 'GET', url: '/.well-known/jwks.json' });
    expect(jwks.statusCode).toBe(200);
    expect(jwks.json()).toEqual({ keys: [] });
    const served = await app.inject({ method: 'GET', url: '/openapi.json' });
    expect(served.json<Document>().openapi).toBe(document.openapi);
  });

  it('serves problems through the problem schema, as problem documents', async () => {
    const answer = await app.inject({ method: 'GET', url: '/v1/organizations/acme' });
    expect(answer.statusCode).toBe(401);
    expect(answer.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(answer.json()).toEqual({
      type: problemType('unauthorized'),
      title: 'Unauthorized',
      status: 401,
      detail: 'send an API key as `Authorization: Bearer <key>`',
    });
  });

  it('names every problem kind the control API answers', () => {
    const found = new Set<string>();
    const patterns = [
      /\b(?:conflict|unprocessable|tooManyRequests)\(\s*'([a-z-]+)'/g,
      /new ProblemError\(\s*[^,]+,\s*'([a-z-]+)'/g,
      /problemType\('([a-z-]+)'\)/g,
    ];
    const root = join(import.meta.dirname, '../../control-api');
    for (const file of readdirSync(root, { recursive: true, encoding: 'utf8' })) {
      if (!file.endsWith('.ts') || file.startsWith('web-ui')) continue;
      const source = readFileSync(join(root, file), 'utf8');
      for (const pattern of patterns) for (const match of source.matchAll(pattern)) found.add(match[1]!);
    }
    found.delete('internal');
    expect(found.size).toBeGreaterThan(20);
    expect([...found].filter((kind) => !(kind in PROBLEM_KINDS))).toEqual([]);
  });
});

describe('problem responses', () => {
  const quotaRoute: FastifyPluginAsyncZod = async (app) => {
    app.post(
      '/quota',
      {
        schema: {
          body: z.object({ n: z.number() }).strict(),
          response: {
            201: { description: 'made', content: { 'application/json': { schema: z.object({}) } } },
            ...problemResponses('body', { 403: ['quota-exceeded'] }),
          },
        },
      },
      async () => {
        throw quotaExceeded('environments', 20, 'the organization has 20 environments');
      },
    );
    for (const [url, answer] of [
      ['/fits', { a: 1, extra: true }],
      ['/wrong', { a: 'one' }],
    ] as const) {
      app.get(
        url,
        { schema: { response: { 200: jsonResponse('made', z.object({ a: z.number() })) } } },
        async () => answer as unknown as { a: number },
      );
    }
  };

  async function tiny() {
    const app = Fastify().withTypeProvider();
    app.setValidatorCompiler(validatorCompiler);
    app.setSerializerCompiler(serializerCompiler);
    installProblemHandlers(app);
    await app.register(quotaRoute);
    return app;
  }

  it('keep the members a problem type adds, and the validation errors', async () => {
    const app = await tiny();
    const refused = await app.inject({ method: 'POST', url: '/quota', payload: { n: 1 } });
    expect(refused.statusCode).toBe(403);
    expect(refused.json()).toEqual({
      type: problemType('quota-exceeded'),
      title: 'Quota exceeded',
      status: 403,
      detail: "the organization has 20 environments: the organization's quota of environments is 20",
      quota: 'environments',
      limit: 20,
    });
    const invalid = await app.inject({ method: 'POST', url: '/quota', payload: { n: 'one' } });
    expect(invalid.statusCode).toBe(400);
    expect(invalid.json()).toMatchObject({
      type: problemType('validation-failed'),
      status: 400,
      errors: [{ path: '/n', message: expect.any(String) }],
    });
    const text = await app.inject({
      method: 'POST',
      url: '/quota',
      payload: '<n>1</n>',
      headers: { 'content-type': 'application/xml' },
    });
    expect(text.statusCode).toBe(415);
    expect(text.json()).toMatchObject({ type: problemType('unsupported-media-type'), status: 415 });
    await app.close();
  });

  it('leave success responses to their schemas: what is not named is left out, what does not fit fails', async () => {
    const app = await tiny();
    expect((await app.inject({ method: 'GET', url: '/fits' })).json()).toEqual({ a: 1 });
    const wrong = await app.inject({ method: 'GET', url: '/wrong' });
    expect(wrong.statusCode).toBe(500);
    expect(wrong.json()).toMatchObject({ type: problemType('internal') });
    await app.close();
  });

  it('fit every problem the handlers build', () => {
    const error = quotaExceeded('runsPerMinute', 120, 'too many', 10);
    expect(problemSchema.safeParse(problemDocument(error.toProblem())).success).toBe(true);
  });
});

/** Serialized through its schema exactly as the route does: it must come out as it went in. */
function servedAsIs(schema: z.ZodType, value: unknown) {
  const serialize = serializerCompiler({ schema, method: 'GET', url: '/test', httpStatus: '200' });
  expect(JSON.parse(serialize(value) as string)).toStrictEqual(JSON.parse(JSON.stringify(value)));
}

describe('the response schemas', () => {
  const at = new Date('2026-01-02T03:04:05.678Z');
  const org: typeof organizations.$inferSelect = {
    id: '0e3c1a52-5f7e-4c55-9f0e-4b1f3d1a2b3c',
    slug: 'acme',
    name: 'Acme',
    quotas: null,
    createdAt: at,
  };
  const env: typeof environments.$inferSelect = {
    id: '9f8e7d6c-5b4a-4321-8fed-cba987654321',
    organizationId: org.id,
    slug: 'prod',
    region: 'eu',
    namespace: 'acme-prod-9f8e7d6c',
    legacyNamespace: false,
    awsAccountId: '000000000001',
    awsRegion: 'eu-central-1',
    bucket: 'tavio-acme-prod-9f8e7d6c',
    keyArn: null,
    dataplaneRoleArn: null,
    namespaceRegisteredAt: null,
    status: 'provisioning',
    statusReason: null,
    workerReleasedAt: null,
    workerRelease: null,
    workerProblem: null,
    createdAt: at,
    updatedAt: at,
  };
  const key: typeof apiKeys.$inferSelect = {
    id: '11111111-2222-4333-8444-555555555555',
    kind: 'environment',
    organizationId: org.id,
    environmentId: env.id,
    region: null,
    prefix: 'tav_env_abcdefghij',
    secretHash: 'f'.repeat(64),
    createdAt: at,
    lastUsedAt: null,
    expiresAt: at,
    revokedAt: null,
    replacedByKeyId: null,
  };
  const run: typeof runs.$inferSelect = {
    id: '22222222-3333-4444-8555-666666666666',
    environmentId: env.id,
    integration: 'hris-sync',
    workflowId: 'hris-sync-22222222-3333-4444-8555-666666666666',
    temporalRunId: null,
    idempotencyKey: 'nightly-1',
    requestHash: 'a'.repeat(64),
    status: 'running',
    summary: null,
    failure: null,
    residency: null,
    createdByKeyId: key.id,
    retentionPolicyVersion: 0,
    logDetail: 'metadata',
    scheduleId: null,
    mappingVersion: null,
    notifiedAt: null,
    createdAt: at,
    closedAt: null,
  };
  const prefix = {
    prefix: 'logs/',
    olderThan: at.toISOString(),
    objects: 3,
    bytes: 1024,
    uploadsAborted: 0,
    oldest: at.toISOString(),
    newest: null,
    complete: true,
  };

  it('serve organizations, environments and keys as their views build them', () => {
    servedAsIs(organizationSchema, orgView(org));
    servedAsIs(environmentSchema, environmentView(config.regions, org.slug, env));
    servedAsIs(
      environmentSchema,
      environmentView(config.regions, org.slug, {
        ...env,
        status: 'active',
        keyArn: 'arn:aws:kms:eu-central-1:1:key/x',
      }),
    );
    servedAsIs(apiKeySchema, keyView(key));
    servedAsIs(
      apiKeySchema,
      keyView({
        ...key,
        kind: 'host',
        region: 'ca',
        organizationId: null,
        environmentId: null,
        lastUsedAt: at,
        revokedAt: at,
        replacedByKeyId: run.id,
      }),
    );
    servedAsIs(issuedApiKeySchema, { ...keyView(key), key: `${key.prefix}_${'s'.repeat(43)}` });
    const overridden = { ...org, quotas: { environments: 50 } };
    servedAsIs(quotasViewSchema, {
      organization: org.slug,
      quotas: quotasOf(config.quotas, overridden),
      overrides: overridden.quotas,
      usage: { environments: 2, connections: 0, runsThisMinute: 7 },
    });
    servedAsIs(regionEnvironmentListSchema, {
      environments: [
        {
          id: env.id,
          organization: org.slug,
          environment: env.slug,
          region: env.region,
          namespace: env.namespace,
          legacyNamespace: true,
          taskQueue: config.regions[env.region].taskQueue,
          bucket: env.bucket,
          keyArn: 'arn:aws:kms:eu-central-1:1:key/x',
          awsRegion: env.awsRegion,
          dataplaneRoleArn: 'arn:aws:iam::1:role/x',
          work: { runningRuns: 1, backlog: false },
        },
      ],
    });
  });

  it('serve connections, runs, residency and log tokens as their views build them', async () => {
    const connection: typeof connections.$inferSelect = {
      id: '33333333-4444-4555-8666-777777777777',
      environmentId: env.id,
      name: 'workday',
      kind: 'hris-rest',
      baseUrl: 'https://hris.example.com/api',
      credentialsVersion: 2,
      createdAt: at,
    };
    servedAsIs(connectionSchema, connectionView(connection));
    const runDeps = runDepsOf({ ...deps, config });
    servedAsIs(runSchema, runView(runDeps, env, run));
    servedAsIs(
      runSchema,
      runView(
        runDeps,
        env,
        {
          ...run,
          status: 'completed',
          summary: { records: 3, egress: { 'hris.example.com:443': 2 } },
          closedAt: at,
          temporalRunId: 'r1',
          logDetail: null,
          retentionPolicyVersion: null,
        },
        'no worker yet',
      ),
    );
    const residency: ResidencyRecord = {
      runId: run.id,
      workflowId: run.workflowId,
      namespace: env.namespace,
      region: env.region,
      gateway: 'gateway-eu',
      taskQueue: 'tavio-eu',
      workerHosts: ['host-eu-1'],
      storage: { bucket: env.bucket, awsRegion: env.awsRegion },
      key: { arn: null, awsRegion: null },
      egress: { source: 'gateway', requests: 2, hosts: { 'hris.example.com:443': 2 } },
      final: true,
    };
    servedAsIs(residencySchema, residency);
    servedAsIs(residencySchema, { ...residency, egress: null, final: false });
    const grant = await issueLogToken(deps, { org, env, run, keyId: key.id });
    servedAsIs(logTokenSchema, grant);
  });

  it('serve retention policies, receipts and retirements as they are built', () => {
    const defaults = { ...DEFAULT_RETENTION, version: 0, createdAt: null, createdByKeyId: null };
    servedAsIs(retentionInForceSchema, { ...defaults, bounds: RETENTION_BOUNDS });
    servedAsIs(retentionStoredSchema, {
      ...defaults,
      version: 1,
      createdAt: at.toISOString(),
      createdByKeyId: key.id,
    });
    const receipt: typeof deletionReceipts.$inferSelect = {
      id: '44444444-5555-4666-8777-888888888888',
      environmentId: env.id,
      kind: 'sweep',
      source: 'sweep:w/r',
      policyVersion: null,
      startedAt: at,
      finishedAt: at,
      objectsDeleted: 3,
      bytesDeleted: 1024,
      prefixes: [prefix],
      complete: true,
      createdAt: at,
    };
    servedAsIs(deletionReceiptSchema, receiptView(receipt));
    const retirement: RetirementReceipt = {
      namespace: env.namespace,
      bucket: env.bucket,
      objectsDeleted: 3,
      bytesDeleted: 1024,
      prefixes: [prefix],
      keyArn: null,
      keyDisabled: false,
      keyDeletionDate: null,
      dataplaneRoleDeleted: true,
      payloadKeyDestroyed: true,
      apiKeysRevoked: 1,
      runsCanceled: 0,
      schedulesDeleted: 2,
      webhookEndpointsDeleted: 1,
      webhookDeliveriesStopped: 0,
      connectionsDeleted: 1,
      worker: {
        confirmed: true,
        at: at.toISOString(),
        osUser: null,
        osUserRemoved: false,
        networkRulesRemoved: true,
        gatewayCredentialsRevoked: true,
      },
      retiredAt: at.toISOString(),
    };
    const retired = environmentView(config.regions, org.slug, { ...env, status: 'retired' });
    servedAsIs(retirementSchema, { environment: retired, receipt: retirement });
    servedAsIs(retirementSchema, {
      environment: retired,
      receipt: { ...retirement, worker: { confirmed: false } },
    });
  });
});
