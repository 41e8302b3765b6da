import Fastify from 'fastify';
import type { FastifyServerOptions } from 'fastify';
import swagger from '@fastify/swagger';
import { serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { installApiMetrics } from '../common/telemetry/api-metrics.js';
import type { ApiMetrics } from '../common/telemetry/api-metrics.js';
import { registerRequestTracing } from '../common/telemetry/api-traces.js';
import { installRequestIdHeader, requestIdOptions } from '../common/telemetry/request-ids.js';
import { installAuth } from './auth.js';
import type { ApiDeps } from './deps.js';
import { installRateLimits, trustProxyOf } from './limits/rate-limits.js';
import { registerHealthRoutes } from './readiness.js';
import { OPENAPI_VERSION, openapiTransform, openapiTransformObject, TAGS } from './openapi.js';
import { installProblemHandlers } from './problems.js';
import { apiKeyRoutes } from './routes/api-keys.js';
import { connectionRoutes } from './routes/connections.js';
import { environmentRoutes } from './routes/environments.js';
import { organizationRoutes } from './routes/organizations.js';
import { regionRoutes } from './routes/regions.js';
import { platformKeyRoutes } from './routes/platform-keys.js';
import { quotaRoutes } from './routes/quotas.js';
import { retentionRoutes } from './routes/retention.js';
import { runRoutes } from './routes/runs.js';
import { scheduleRoutes } from './routes/schedules.js';
import { scheduleActionRoutes } from './routes/schedule-actions.js';
import { mappingRoutes } from './routes/mappings.js';
import { temporalAuthRoutes } from './routes/temporal-auth.js';
import { webhookDeliveryRoutes } from './routes/webhook-deliveries.js';
import { webhookRoutes } from './routes/webhooks.js';

/** Builds the control API. The OpenAPI document is generated from the routes' zod schemas. */
export async function buildApp(
  deps: ApiDeps,
  logger: FastifyServerOptions['logger'] = false,
  metrics?: ApiMetrics,
) {
  const app = Fastify({
    logger,
    ...requestIdOptions,
    bodyLimit: deps.config.bodyLimitBytes,
    trustProxy: trustProxyOf(deps.config.trustedProxies),
  }).withTypeProvider<ZodTypeProvider>();
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  // First, so that every request's span holds the spans of what it causes.
  await registerRequestTracing(app);
  installProblemHandlers(app);
  installRequestIdHeader(app);
  if (metrics) installApiMetrics(app, metrics);
  await app.register(swagger, {
    openapi: {
      openapi: OPENAPI_VERSION,
      info: { title: 'Tavio control API', version: '1' },
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer', description: 'An API key: tav_<kind>_<id>_<secret>' },
        },
      },
      security: [{ bearer: [] }],
      tags: [...TAGS],
    },
    transform: openapiTransform,
    transformObject: openapiTransformObject,
  });
  const limits = await installRateLimits(
    app,
    deps.counters,
    deps.config.limits,
    deps.config.platformNetworks,
  );
  installAuth(app, deps.db, deps.authThrottle);
  limits.installKeyLimit();
  await app.register(organizationRoutes(deps));
  await app.register(quotaRoutes(deps));
  await app.register(environmentRoutes(deps));
  await app.register(apiKeyRoutes(deps));
  await app.register(platformKeyRoutes(deps));
  await app.register(connectionRoutes(deps));
  await app.register(runRoutes(deps));
  await app.register(scheduleRoutes(deps));
  await app.register(scheduleActionRoutes(deps));
  await app.register(mappingRoutes(deps));
  await app.register(retentionRoutes(deps));
  await app.register(webhookRoutes(deps));
  await app.register(webhookDeliveryRoutes(deps));
  await app.register(regionRoutes(deps));
  await app.register(temporalAuthRoutes(deps));
  registerHealthRoutes(app, deps);
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  return app;
}
