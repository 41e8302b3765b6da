import { and, desc, eq } from 'drizzle-orm';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { runs } from '../../db/schema.js';
import { audit } from '../audit.js';
import { principalOf, visibleEnvironment } from '../auth.js';
import type { ApiDeps } from '../deps.js';
import { notFound } from '../problems.js';
import { jsonResponse, link, problemResponses } from '../openapi.js';
import {
  logTokenSchema,
  residencySchema,
  runListSchema,
  runProgressSchema,
  runSchema,
} from '../openapi-schemas.js';
import { refreshRun, runDepsOf, runView, startRun, waitingReason } from '../runs.js';
import { buildResidency } from '../run-placement.js';
import { issueLogToken } from '../run-logs.js';
import { runProgress } from '../run-progress.js';
import { envParams, runParams } from '../schemas.js';

const startBody = z
  .object({
    integration: z.string().min(1).max(100),
    connections: z.record(z.string(), z.string().max(100)),
    options: z.record(z.string(), z.unknown()).optional(),
    idempotencyKey: z.string().min(1).max(200),
  })
  .strict();

const runOfResponse = { org: '$request.path.org', env: '$request.path.env', run: '$response.body#/id' };
const startedRunLinks = {
  getRun: link('getRun', runOfResponse, 'Read the run'),
  cancelRun: link('cancelRun', runOfResponse, 'Cancel the run'),
  createRunLogToken: link('createRunLogToken', runOfResponse, "Get a token to read the run's log"),
  getRunResidency: link('getRunResidency', runOfResponse, 'Where the run happened'),
  getRunProgress: link('getRunProgress', runOfResponse, "The run's progress: counts and times"),
};

export function runRoutes(deps: ApiDeps): FastifyPluginAsyncZod {
  const runDeps = runDepsOf(deps);

  async function loadRun(principal: ReturnType<typeof principalOf>, params: z.infer<typeof runParams>) {
    const { org, env } = await visibleEnvironment(deps.db, principal, params);
    const [row] = await deps.db
      .select()
      .from(runs)
      .where(and(eq(runs.id, params.run), eq(runs.environmentId, env.id)));
    if (!row) throw notFound(`run ${params.run}`);
    return { org, env, row };
  }

  return async (app) => {
    app.post(
      '/v1/organizations/:org/environments/:env/runs',
      {
        schema: {
          operationId: 'createRun',
          tags: ['runs'],
          summary: 'Start a run; the same idempotency key returns the same run',
          params: envParams,
          body: startBody,
          response: {
            200: jsonResponse('The run an earlier request with this idempotency key started', runSchema),
            201: jsonResponse('The run, started', runSchema),
            ...problemResponses('body', {
              404: ['not-found'],
              409: ['environment-not-active', 'idempotency-key-reused'],
              422: [
                'unknown-integration',
                'invalid-options',
                'unknown-connection-role',
                'missing-connection',
                'unknown-connection',
                'wrong-connection-kind',
              ],
              429: ['quota-exceeded'],
            }),
          },
        },
        links: { 200: startedRunLinks, 201: startedRunLinks },
      },
      async (request, reply) => {
        const principal = principalOf(request);
        const { org, env } = await visibleEnvironment(deps.db, principal, request.params);
        const { run, created } = await startRun(runDeps, env, org.slug, request.body, principal.keyId);
        return reply.code(created ? 201 : 200).send(runView(runDeps, env, run));
      },
    );

    app.get(
      '/v1/organizations/:org/environments/:env/runs',
      {
        schema: {
          operationId: 'listRuns',
          tags: ['runs'],
          summary: "List an environment's runs, newest first",
          params: envParams,
          querystring: z.object({ limit: z.coerce.number().int().min(1).max(200).default(50) }),
          response: {
            200: jsonResponse("The environment's runs, newest first", runListSchema),
            ...problemResponses('input', { 404: ['not-found'] }),
          },
        },
      },
      async (request) => {
        const { env } = await visibleEnvironment(deps.db, principalOf(request), request.params);
        const rows = await deps.db
          .select()
          .from(runs)
          .where(eq(runs.environmentId, env.id))
          .orderBy(desc(runs.createdAt))
          .limit(request.query.limit);
        // Rows only: the run reconciler moves them forward when their workflows close.
        return { runs: rows.map((row) => runView(runDeps, env, row)) };
      },
    );

    app.get(
      '/v1/organizations/:org/environments/:env/runs/:run',
      {
        schema: {
          operationId: 'getRun',
          tags: ['runs'],
          summary: 'Read a run: status and summary',
          params: runParams,
          response: {
            200: jsonResponse('The run', runSchema),
            ...problemResponses('input', { 404: ['not-found'] }),
          },
        },
      },
      async (request) => {
        const { env, row } = await loadRun(principalOf(request), request.params);
        return runView(runDeps, env, row, await waitingReason(runDeps, env, row));
      },
    );

    app.get(
      '/v1/organizations/:org/environments/:env/runs/:run/progress',
      {
        schema: {
          operationId: 'getRunProgress',
          tags: ['runs'],
          summary:
            "A run's progress: counts and elapsed time, from its workflow while it runs, from its summary once closed",
          params: runParams,
          response: {
            200: jsonResponse("The run's counts and times, never records", runProgressSchema),
            ...problemResponses('input', { 404: ['not-found'] }),
          },
        },
      },
      async (request) => {
        const { env, row } = await loadRun(principalOf(request), request.params);
        return runProgress(runDeps, env, row);
      },
    );

    app.get(
      '/v1/organizations/:org/environments/:env/runs/:run/residency',
      {
        schema: {
          operationId: 'getRunResidency',
          tags: ['runs'],
          summary:
            'Where a run happened: region, queue, worker hosts, storage and key regions, egress by host',
          params: runParams,
          response: {
            200: jsonResponse('Where the run happened; final once it closed', residencySchema),
            ...problemResponses('input', { 404: ['not-found'] }),
          },
        },
      },
      async (request) => {
        const { env, row } = await loadRun(principalOf(request), request.params);
        return (
          row.residency ??
          deps.temporal.inNamespace(env.namespace, 'read', (client) =>
            buildResidency(client, deps.config.regions, env, row, false),
          )
        );
      },
    );

    app.post(
      '/v1/organizations/:org/environments/:env/runs/:run/log-token',
      {
        schema: {
          operationId: 'createRunLogToken',
          tags: ['runs'],
          summary:
            "A short-lived token to read the run's log from its region's data plane (the control plane never opens logs)",
          params: runParams,
          response: {
            201: jsonResponse("The token, and where the run's log is read with it", logTokenSchema),
            ...problemResponses('body', { 404: ['not-found'] }),
          },
        },
      },
      async (request, reply) => {
        const principal = principalOf(request);
        const { org, env, row } = await loadRun(principal, request.params);
        const grant = await issueLogToken(deps, { org, env, run: row, keyId: principal.keyId });
        await audit(deps.db, {
          actorKeyId: principal.keyId,
          action: 'run.log_token_issued',
          organizationId: env.organizationId,
          environmentId: env.id,
          target: row.workflowId,
          details: { expiresAt: grant.expiresAt },
        });
        return reply.code(201).send(grant);
      },
    );

    app.post(
      '/v1/organizations/:org/environments/:env/runs/:run/cancel',
      {
        schema: {
          operationId: 'cancelRun',
          tags: ['runs'],
          summary: 'Request cancellation of a run',
          params: runParams,
          response: {
            202: jsonResponse('The run; a running one is being canceled', runSchema),
            ...problemResponses('body', { 404: ['not-found'] }),
          },
        },
      },
      async (request, reply) => {
        const principal = principalOf(request);
        const { env, row } = await loadRun(principal, request.params);
        const current = await refreshRun(runDeps, env, row);
        if (current.status === 'running') {
          await deps.temporal.inNamespace(env.namespace, 'write', (client) =>
            client.workflow.getHandle(row.workflowId).cancel(),
          );
          await audit(deps.db, {
            actorKeyId: principal.keyId,
            action: 'run.cancel_requested',
            organizationId: env.organizationId,
            environmentId: env.id,
            target: row.workflowId,
          });
        }
        return reply.code(202).send(runView(runDeps, env, current));
      },
    );
  };
}
