import { Readable } from 'node:stream';
import Fastify, { LogController } from 'fastify';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { createRemoteJWKSet, errors as joseErrors, jwtVerify } from 'jose';
import type { JWTPayload } from 'jose';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { RegionCode } from '../common/regions.js';
import {
  isLogDay,
  logDaysBetween,
  parseRunLogQuery,
  RUN_LOG_AUDIENCE,
  runLogFolder,
} from '../common/run-log.js';
import { objectKeyOf } from '../common/sealed-objects.js';
import type { DataplaneCredentials } from '../common/worker-secrets.js';
import { cursorOfRun, environmentReader, madeFor, readRunLog } from './log-reader.js';
import type { EnvironmentReader, LogAssignment } from './log-reader.js';

/**
 * The region host's data-plane endpoint for run logs. A caller shows a token the control API
 * issued for one run; the host opens that run's chunks in the environment's bucket with the
 * environment's own short-lived credentials and streams the records, one chunk at a time. The
 * control plane never sees a record.
 */

export const RUN_LOG_ROUTE = '/v1/organizations/:org/environments/:env/runs/:run/logs';

/** Days a token may cover at most (runs are kept far shorter). */
const MAX_TOKEN_DAYS = 3660;

const claimsSchema = z.object({
  tavio: z
    .object({
      organization: z.string().min(1),
      environment: z.string().min(1),
      environmentId: z.string().min(1),
      region: z.string().min(1),
      run: z.string().min(1),
      workflowId: z.string().min(1),
      from: z.string().refine(isLogDay),
      to: z.string().refine(isLogDay),
    })
    .refine((c) => c.from <= c.to && logDaysBetween(c.from, c.to).length <= MAX_TOKEN_DAYS)
    .refine((c) => {
      try {
        objectKeyOf('logs', runLogFolder(c.from, c.workflowId));
        return true;
      } catch {
        return false;
      }
    }),
});
export type RunLogClaims = z.infer<typeof claimsSchema>['tavio'];

export interface LogServerOptions {
  region: RegionCode;
  /** The region's data-plane URL: the server listens on 127.0.0.1 at its port. */
  url: string;
  /** Where the control API publishes the keys its tokens are signed with. */
  controlApiUrl: string;
  /** The region's S3/KMS endpoint override (a local S3/KMS service); absent on AWS. */
  awsEndpoint?: string;
  /** The environment assigned to this host now with this id, if any. */
  assignment(environmentId: string): LogAssignment | undefined;
  /** Short-lived credentials of an environment's data-plane role. */
  issueCredentials(roleArn: string, seconds: number): Promise<DataplaneCredentials>;
  log: Logger;
  /** Checks a bearer token and returns its claims; by default against the control API's JWKS. */
  verifyToken?: (token: string) => Promise<JWTPayload>;
}

class Problem extends Error {
  constructor(
    readonly status: number,
    readonly kind: string,
    readonly title: string,
    detail: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(detail);
  }
}

const unauthorized = (detail: string) => new Problem(401, 'unauthorized', 'Unauthorized', detail);
const forbidden = (detail: string) => new Problem(403, 'forbidden', 'Forbidden', detail);
const notFound = (detail: string) => new Problem(404, 'not-found', 'Not found', detail);
const badQuery = (parameter: string, detail: string) =>
  new Problem(400, 'invalid-query', 'Invalid query', `${parameter}: ${detail}`, { parameter });

function sendProblem(reply: FastifyReply, problem: Problem): FastifyReply {
  if (problem.status === 401) void reply.header('www-authenticate', 'Bearer');
  return reply
    .code(problem.status)
    .type('application/problem+json')
    .send({
      type: `https://tavio.dev/problems/${problem.kind}`,
      title: problem.title,
      status: problem.status,
      detail: problem.message,
      ...problem.extra,
    });
}

/** The region host's run-log endpoint. `listen` never throws: a taken port is logged, and the host goes on. */
export function createLogServer(options: LogServerOptions) {
  const { log } = options;
  const jwks = createRemoteJWKSet(new URL('/.well-known/jwks.json', options.controlApiUrl));
  const verify =
    options.verifyToken ??
    (async (token: string) =>
      (
        await jwtVerify(token, jwks, {
          audience: RUN_LOG_AUDIENCE,
          algorithms: ['ES256'],
          requiredClaims: ['exp'],
        })
      ).payload);
  const readers = new Map<string, EnvironmentReader>();

  function readerOf(assignment: LogAssignment): EnvironmentReader {
    const known = readers.get(assignment.id);
    if (known && known.made === madeFor(assignment)) return known;
    known?.destroy();
    const reader = environmentReader(assignment, options);
    readers.set(assignment.id, reader);
    return reader;
  }

  async function claimsOf(request: FastifyRequest): Promise<RunLogClaims> {
    const token = /^Bearer ([A-Za-z0-9._~+/=-]+)$/.exec(request.headers.authorization ?? '')?.[1];
    if (!token) throw unauthorized('send a run log token as Authorization: Bearer <token>');
    let payload: JWTPayload;
    try {
      payload = await verify(token);
    } catch (error) {
      if (error instanceof joseErrors.JWTExpired) throw unauthorized('the token has expired');
      const keysUnavailable =
        error instanceof joseErrors.JWKSTimeout || error instanceof joseErrors.JWKSInvalid;
      if (error instanceof joseErrors.JOSEError && !keysUnavailable) {
        throw unauthorized('the token is not a valid run log token');
      }
      log.warn(
        { err: error instanceof Error ? error.message : String(error) },
        'run log: tokens cannot be checked',
      );
      throw new Problem(
        503,
        'token-keys-unavailable',
        'Service unavailable',
        'tokens cannot be checked right now',
      );
    }
    const claims = claimsSchema.safeParse(payload);
    if (!claims.success) throw unauthorized('the token does not name a run log');
    return claims.data.tavio;
  }

  /** The environment whose run the token names, when the path, this host and the token agree. */
  function authorize(claims: RunLogClaims, params: { org: string; env: string; run: string }): LogAssignment {
    if (claims.region !== options.region)
      throw forbidden(`the token is for region ${claims.region}, not ${options.region}`);
    if (
      claims.organization !== params.org ||
      claims.environment !== params.env ||
      claims.run !== params.run
    ) {
      throw forbidden('the token is for another run');
    }
    const assignment = options.assignment(claims.environmentId);
    if (!assignment) {
      throw notFound(`environment ${params.org}/${params.env} is not served by this host`);
    }
    if (assignment.organization !== claims.organization || assignment.environment !== claims.environment) {
      throw forbidden('the token is for another environment');
    }
    return assignment;
  }

  const app = Fastify({
    loggerInstance: log.child({ component: 'log-server' }),
    logController: new LogController({ disableRequestLogging: true }),
    // A HEAD would open chunks to answer nothing.
    exposeHeadRoutes: false,
    // Reads take no body.
    bodyLimit: 1024,
  });
  app.setNotFoundHandler((request, reply) =>
    sendProblem(reply, notFound(`route ${request.method} ${request.url.split('?')[0]} was not found`)),
  );
  app.setErrorHandler((error: Error & { statusCode?: number }, request, reply) => {
    const status = error.statusCode ?? 500;
    if (status >= 400 && status < 500)
      return sendProblem(reply, new Problem(status, 'malformed-request', 'Malformed request', error.message));
    log.error(
      { err: error instanceof Error ? error.message : String(error), url: request.url.split('?')[0] },
      'run log request failed',
    );
    return sendProblem(reply, new Problem(500, 'internal', 'Internal error', 'the request failed'));
  });

  app.get<{ Params: { org: string; env: string; run: string }; Querystring: Record<string, unknown> }>(
    RUN_LOG_ROUTE,
    async (request, reply) => {
      let lines: AsyncGenerator<string>;
      let first: IteratorResult<string>;
      try {
        const claims = await claimsOf(request);
        const assignment = authorize(claims, request.params);
        const parsed = parseRunLogQuery(request.query);
        if (!parsed.ok) throw badQuery(parsed.parameter, parsed.detail);
        if (parsed.query.cursor && !cursorOfRun(parsed.query.cursor.key, claims.workflowId)) {
          throw badQuery('cursor', 'the cursor belongs to another run');
        }
        const source = readerOf(assignment).source(claims.workflowId);
        lines = readRunLog(source, claims, parsed.query);
        // The first piece is read before answering: a failure to reach the bucket is still a problem document.
        try {
          first = await lines.next();
        } catch (error) {
          log.warn(
            { environment: assignment.id, err: error instanceof Error ? error.message : String(error) },
            'run log: bucket unreachable',
          );
          throw new Problem(502, 'log-unavailable', 'Bad gateway', "the environment's log could not be read");
        }
      } catch (error) {
        if (error instanceof Problem) return sendProblem(reply, error);
        throw error;
      }
      async function* rest(): AsyncGenerator<string> {
        if (first.done) return;
        yield first.value;
        yield* lines;
      }
      // One piece waits at most: the next chunk is opened once the socket has taken the last.
      const body = Readable.from(rest(), { highWaterMark: 1 });
      body.on('error', (error) => log.warn({ err: error.message }, 'run log: the answer was cut short'));
      return reply.type('application/x-ndjson').header('cache-control', 'no-store').send(body);
    },
  );

  return {
    app,

    /** Listens on 127.0.0.1 at the data-plane URL's port; false (and an error logged) when it cannot. */
    async listen(): Promise<boolean> {
      const url = new URL(options.url);
      const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
      try {
        await app.listen({ host: '127.0.0.1', port });
        log.info({ url: options.url }, 'serving run logs');
        return true;
      } catch (error) {
        log.error(
          { port, err: error instanceof Error ? error.message : String(error) },
          'run logs are not served: the data-plane port could not be taken',
        );
        return false;
      }
    },

    /** Drops the clients of an environment that is no longer assigned here. */
    forget(environmentId: string): void {
      readers.get(environmentId)?.destroy();
      readers.delete(environmentId);
    },

    async close(): Promise<void> {
      await app.close();
      for (const reader of readers.values()) reader.destroy();
      readers.clear();
    },
  };
}
export type LogServer = ReturnType<typeof createLogServer>;
