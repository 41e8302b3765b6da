import { and, count, eq } from 'drizzle-orm';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { environments, organizations, runs } from '../../db/schema.js';
import type { RegionCode } from '../../common/regions.js';
import { isRegionHost, principalOf } from '../auth.js';
import type { Principal } from '../auth.js';
import type { ApiDeps } from '../deps.js';
import { notFound } from '../problems.js';
import { jsonResponse, problemResponses } from '../openapi.js';
import { egressDecisionSchema, recordedSchema, regionEnvironmentListSchema } from '../openapi-schemas.js';
import { regionParams } from '../schemas.js';
import { decideEgress } from '../egress-rules.js';
import { workerReleaseSchema } from '../provisioning/worker-release.js';

export function regionRoutes(deps: ApiDeps): FastifyPluginAsyncZod {
  /** Records what a region's host reports about one environment of its region (404 for anything else). */
  async function recordForHost(
    principal: Principal,
    { region, environment }: { region: RegionCode; environment: string },
    report: Partial<typeof environments.$inferInsert>,
  ) {
    if (!isRegionHost(principal, region)) throw notFound(`region ${region}`);
    const [row] = await deps.db
      .update(environments)
      .set(report)
      .where(and(eq(environments.id, environment), eq(environments.region, region)))
      .returning({ id: environments.id });
    if (!row) throw notFound(`environment ${environment} in region ${region}`);
    return { recorded: true };
  }

  return async (app) => {
    app.get(
      '/v1/regions/:region/egress-decisions',
      {
        schema: {
          operationId: 'getEgressDecision',
          tags: ['regions'],
          summary:
            "Whether an environment may reach a destination through the region's gateway (that region's host key)",
          params: regionParams,
          response: {
            200: jsonResponse('Whether the destination is allowed, and why', egressDecisionSchema),
            ...problemResponses('input', { 404: ['not-found'] }),
          },
          querystring: z
            .object({
              user: z.string().max(64),
              host: z.string().min(1).max(255),
              port: z.coerce.number().int().min(1).max(65535),
              kind: z.enum(['address', 'name']),
            })
            .strict(),
        },
      },
      async (request) => {
        const principal = principalOf(request);
        const { region } = request.params;
        if (!isRegionHost(principal, region)) throw notFound(`region ${region}`);
        return decideEgress(deps.db, deps.config.regions[region], request.query);
      },
    );

    app.post(
      '/v1/regions/:region/environments/:environment/worker-released',
      {
        schema: {
          operationId: 'reportWorkerReleased',
          tags: ['regions'],
          summary:
            "What went with an environment's stopped worker, for its deletion receipt (that region's host key)",
          params: regionParams.extend({ environment: z.uuid() }),
          body: workerReleaseSchema,
          response: {
            200: jsonResponse('Recorded', recordedSchema),
            ...problemResponses('body', { 404: ['not-found'] }),
          },
        },
      },
      async (request) => {
        return recordForHost(principalOf(request), request.params, {
          workerReleasedAt: new Date(),
          workerRelease: request.body,
        });
      },
    );

    app.post(
      '/v1/regions/:region/environments/:environment/worker-problem',
      {
        schema: {
          operationId: 'reportWorkerProblem',
          tags: ['regions'],
          summary:
            "Why the region host cannot start an environment's worker, or null once it runs (that region's host key)",
          params: regionParams.extend({ environment: z.uuid() }),
          body: z.object({ problem: z.string().max(2000).nullable() }).strict(),
          response: {
            200: jsonResponse('Recorded', recordedSchema),
            ...problemResponses('body', { 404: ['not-found'] }),
          },
        },
      },
      async (request) => {
        // Host-side text (users, tables, the control API's answers), bounded before it is kept.
        const problem = request.body.problem?.slice(0, 500) ?? null;
        return recordForHost(principalOf(request), request.params, { workerProblem: problem });
      },
    );

    app.get(
      '/v1/regions/:region/environments',
      {
        schema: {
          operationId: 'listRegionEnvironments',
          tags: ['regions'],
          summary:
            "Active environments pinned to a region, with the work each has now: what that region's worker host runs",
          params: regionParams,
          response: {
            200: jsonResponse("The region's active environments and their work", regionEnvironmentListSchema),
            ...problemResponses('input', { 404: ['not-found'] }),
          },
        },
      },
      async (request) => {
        const principal = principalOf(request);
        const { region } = request.params;
        // A host sees its own region only; another region's list does not exist for it.
        if (principal.kind !== 'operator' && !isRegionHost(principal, region))
          throw notFound(`region ${region}`);
        const rows = await deps.db
          .select({ env: environments, orgSlug: organizations.slug, runningRuns: count(runs.id) })
          .from(environments)
          .innerJoin(organizations, eq(organizations.id, environments.organizationId))
          .leftJoin(runs, and(eq(runs.environmentId, environments.id), eq(runs.status, 'running')))
          .where(and(eq(environments.region, region), eq(environments.status, 'active')))
          .groupBy(environments.id, organizations.slug);
        return {
          environments: rows.map(({ env, orgSlug, runningRuns }) => ({
            id: env.id,
            organization: orgSlug,
            environment: env.slug,
            region: env.region,
            namespace: env.namespace,
            legacyNamespace: env.legacyNamespace,
            taskQueue: deps.config.regions[env.region].taskQueue,
            bucket: env.bucket,
            keyArn: env.keyArn!,
            awsRegion: env.awsRegion,
            dataplaneRoleArn: env.dataplaneRoleArn!,
            // What the host starts the environment's worker for; without it the worker may stop.
            work: { runningRuns, backlog: deps.backlog.backlogged(env.id) },
          })),
        };
      },
    );
  };
}
