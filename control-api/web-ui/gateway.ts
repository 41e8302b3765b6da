import cookie from '@fastify/cookie';
import formbody from '@fastify/formbody';
import proxy from '@fastify/http-proxy';
import Fastify from 'fastify';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { Database } from '../../db/client.js';
import { audit } from '../audit.js';
import { authenticate, principalOfKeyId } from '../auth.js';
import type { AuthThrottle } from '../limits/auth-throttle.js';
import { clientAddress, trustProxyOf } from '../limits/rate-limits.js';
import type { Principal } from '../auth.js';
import { ProblemError, installProblemHandlers, unauthorized } from '../problems.js';
import type { SigningKeys } from '../temporal-auth/signing-keys.js';
import { webUiPermissions } from '../temporal-auth/people.js';
import type { PayloadKeys } from '../payload-keys.js';
import { installCodec } from './codec.js';
import { loginPage } from './login-page.js';
import { SESSION_COOKIE, createSessions } from './sessions.js';

export interface WebUiGatewayOptions {
  db: Database;
  /** The control API's: a failed sign-in here counts against the same key and address. */
  authThrottle: AuthThrottle;
  trustedProxies: string[];
  signingKeys: SigningKeys;
  payloadKeys: PayloadKeys;
  /** The Temporal Web UI server, which forwards each request's Authorization header to Temporal. */
  upstream: string;
  tokenTtlMs: number;
}

interface SignedIn {
  sessionId: string;
  principal: Principal;
  /** What the session's token grants in Temporal (`<namespace>:<role>`). */
  permissions: readonly string[];
  token: string;
}

declare module 'fastify' {
  interface FastifyRequest {
    signedIn: SignedIn | null;
  }
}

const OPEN_PATHS = new Set(['/login', '/logout', '/healthz']);

/** Only a path of this site: never another origin (`//host`, `/\host`) after sign-in. */
const safeNext = (next: unknown): string =>
  typeof next === 'string' && /^\/(?![/\\])/.test(next) ? next : '/namespaces';

/**
 * The only way to the Temporal Web UI: a sign-in with an API key, then every request forwarded with
 * a Temporal token limited to what that key covers, so Temporal itself decides what each person
 * sees and may do. Requests without a session get the sign-in page (or a 401 for API calls).
 */
export async function buildWebUiGateway(options: WebUiGatewayOptions) {
  const { db, signingKeys } = options;
  const sessions = createSessions(db);
  const tokens = new Map<string, { token: string; permissions: string[]; renewAt: number }>();

  async function tokenOf(sessionId: string, principal: Principal) {
    const held = tokens.get(sessionId);
    if (held && held.renewAt > Date.now()) return held;
    // Permissions are computed anew at each renewal, so a new environment appears without signing in again.
    const permissions = await webUiPermissions(db, principal);
    const signed = await signingKeys.sign(`ui:${principal.keyId}`, permissions, options.tokenTtlMs);
    const renewed = { token: signed.token, permissions, renewAt: Date.now() + options.tokenTtlMs / 2 };
    // Tokens of sessions nobody used for a whole token lifetime are dropped, so the map stays bounded.
    for (const [id, stale] of tokens) if (stale.renewAt + options.tokenTtlMs < Date.now()) tokens.delete(id);
    tokens.set(sessionId, renewed);
    return renewed;
  }

  async function signedIn(request: FastifyRequest): Promise<SignedIn | null> {
    const session = await sessions.resolve(request.cookies[SESSION_COOKIE]);
    if (!session) return null;
    const principal = await principalOfKeyId(db, session.keyId).catch(() => null);
    if (!principal) {
      tokens.delete(session.id);
      return null;
    }
    const { token, permissions } = await tokenOf(session.id, principal);
    return { sessionId: session.id, principal, permissions, token };
  }

  const app = Fastify({
    logger: false,
    bodyLimit: 16 * 1024,
    trustProxy: trustProxyOf(options.trustedProxies),
  });
  installProblemHandlers(app);
  await app.register(cookie);
  await app.register(formbody);
  app.decorateRequest('signedIn', null);

  app.addHook('onRequest', async (request, reply) => {
    const path = request.url.split('?')[0] ?? '/';
    if (OPEN_PATHS.has(path)) return;
    request.signedIn = await signedIn(request);
    if (request.signedIn) return;
    if (path.startsWith('/api/') || path.startsWith('/codec/')) throw unauthorized('sign in at /login first');
    return reply.redirect(`/login?next=${encodeURIComponent(request.url)}`, 302);
  });

  app.get('/healthz', async () => ({ status: 'ok' }));

  app.get('/login', async (request, reply) =>
    reply.type('text/html').send(loginPage({ next: safeNext((request.query as { next?: unknown }).next) })),
  );

  app.post('/login', async (request, reply) => {
    const body = z
      .object({ key: z.string().max(200), next: z.string().max(2000).optional() })
      .safeParse(request.body);
    const next = safeNext(body.success ? body.data.next : undefined);
    const refuse = (status: number, error: string) =>
      reply.code(status).type('text/html').send(loginPage({ next, error }));
    if (!body.success) return refuse(400, 'Enter an API key.');
    let principal: Principal;
    try {
      principal = await authenticate(db, options.authThrottle, body.data.key.trim(), clientAddress(request));
    } catch (error) {
      if (!(error instanceof ProblemError) || (error.status !== 401 && error.status !== 429)) throw error;
      void reply.headers(error.headers);
      return refuse(error.status, error.message);
    }
    if (principal.kind === 'host') return refuse(403, 'A region host key cannot sign in to the Web UI.');
    const session = await sessions.open(principal.keyId);
    await audit(db, {
      actorKeyId: principal.keyId,
      action: 'web_ui.signed_in',
      organizationId: principal.organizationId,
      environmentId: principal.environmentId,
    });
    void reply.setCookie(SESSION_COOKIE, session.cookie, {
      path: '/',
      httpOnly: true,
      sameSite: 'strict',
      secure: 'auto',
      expires: session.expiresAt,
    });
    return reply.redirect(next, 303);
  });

  app.post('/logout', async (request, reply: FastifyReply) => {
    const session = await sessions.resolve(request.cookies[SESSION_COOKIE]);
    if (session) {
      tokens.delete(session.id);
      await sessions.close(session.id);
    }
    void reply.clearCookie(SESSION_COOKIE, { path: '/' });
    return reply.redirect('/login', 303);
  });

  installCodec(app, options.payloadKeys, (request) => request.signedIn?.permissions ?? []);

  await app.register(proxy, {
    upstream: options.upstream,
    replyOptions: {
      // The caller's cookie and any Authorization it sent stay here; Temporal sees only the session's token.
      rewriteRequestHeaders: (request, headers) => {
        const forwarded = { ...headers };
        delete forwarded.cookie;
        delete forwarded.authorization;
        const token = (request as FastifyRequest).signedIn?.token;
        return token ? { ...forwarded, authorization: `Bearer ${token}` } : forwarded;
      },
    },
  });
  return app;
}
