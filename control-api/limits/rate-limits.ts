import rateLimit, { normalizeIP } from '@fastify/rate-limit';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { addressRules, isPlatformAddress } from '../../common/address-rules.js';
import type { Limits } from '../../common/config.js';
import { tooManyRequests } from '../problems.js';
import type { Counters } from './counters.js';

const MINUTE_MS = 60_000;
/** Probes need no key and are never counted. */
const UNCOUNTED = new Set(['/healthz', '/readyz']);

/** The client's address as rate limits count it: IPv6 by its /64, as one host usually holds one. */
export const clientAddress = (request: FastifyRequest) => normalizeIP(request.ip);

/** Without trusted proxies, the client address is the connection's and `X-Forwarded-For` is ignored. */
export const trustProxyOf = (networks: string[]) => (networks.length > 0 ? networks : false);

type Limiter = ReturnType<FastifyInstance['createRateLimit']>;

async function enforce(limiter: Limiter, request: FastifyRequest, reply: FastifyReply, who: string) {
  const state = await limiter(request);
  if (state.isAllowed) return;
  const resetSeconds = String(state.ttlInSeconds);
  void reply.headers({
    'ratelimit-limit': String(state.max),
    'ratelimit-remaining': String(state.remaining),
    'ratelimit-reset': resetSeconds,
  });
  if (!state.isExceeded) return;
  const error = tooManyRequests(
    'rate-limited',
    `${who} made more than ${state.max} requests in a minute; retry in ${resetSeconds} s`,
    state.ttlInSeconds,
  );
  error.headers['ratelimit-limit'] = String(state.max);
  error.headers['ratelimit-remaining'] = '0';
  error.headers['ratelimit-reset'] = resetSeconds;
  throw error;
}

/**
 * Requests per client address (before the key is checked, so a flood of bad keys is cut too) and
 * per API key (once the key is known), counted in the control database so that every control API
 * process shares them. The platform's own traffic is not a tenant's: requests from its networks
 * (region hosts, gateways, Temporal reading the JWKS) and region host keys are not counted.
 * `installKeyLimit` must be installed after authentication.
 */
export async function installRateLimits(
  app: FastifyInstance,
  counters: Counters,
  limits: Limits,
  platformNetworks: readonly string[],
) {
  await app.register(rateLimit, { global: false, store: counters.store });
  const platform = addressRules({ platform: platformNetworks, customer: [] });
  const byAddress = app.createRateLimit({
    keyGenerator: (request) => `address:${clientAddress(request)}`,
    max: limits.requestsPerAddressPerMinute,
    timeWindow: MINUTE_MS,
  });
  const byKey = app.createRateLimit({
    keyGenerator: (request) => `key:${request.principal?.keyId}`,
    max: limits.requestsPerKeyPerMinute,
    timeWindow: MINUTE_MS,
  });
  app.addHook('onRequest', async (request, reply) => {
    if (UNCOUNTED.has(request.url) || isPlatformAddress(request.ip, platform)) return;
    await enforce(byAddress, request, reply, `address ${clientAddress(request)}`);
  });
  return {
    installKeyLimit() {
      app.addHook('onRequest', async (request, reply) => {
        if (request.principal && request.principal.kind !== 'host')
          await enforce(byKey, request, reply, 'this API key');
      });
    },
  };
}
