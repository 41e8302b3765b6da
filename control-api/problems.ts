import type { FastifyError, FastifyInstance } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { DATABASE_RETRY_AFTER_SECONDS, isDatabaseUnavailable } from './database-unavailable.js';

/** RFC 9457 problem details. `type` is a stable URI per problem kind. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail?: string;
  errors?: Array<{ path: string; message: string }>;
}

export class ProblemError extends Error {
  /** Response headers that go with the problem (`Retry-After`, rate limit state). */
  headers: Record<string, string> = {};
  /** Members the problem type defines beyond RFC 9457's (for example the quota and its limit). */
  extensions: Record<string, unknown> = {};

  constructor(
    readonly status: number,
    readonly kind: string,
    readonly title: string,
    detail?: string,
    readonly errors?: Problem['errors'],
  ) {
    super(detail ?? title);
  }

  toProblem(): Problem {
    return {
      type: problemType(this.kind),
      title: this.title,
      status: this.status,
      detail: this.message,
      ...(this.errors ? { errors: this.errors } : {}),
      ...this.extensions,
    };
  }
}

export const problemType = (kind: string) => `https://tavio.dev/problems/${kind}`;

export const notFound = (what: string) =>
  new ProblemError(404, 'not-found', 'Not found', `${what} was not found`);
export const conflict = (kind: string, detail: string) => new ProblemError(409, kind, 'Conflict', detail);
export const unprocessable = (kind: string, detail: string) =>
  new ProblemError(422, kind, 'Unprocessable request', detail);
/** 409: what was asked needs an active environment (one being retired, or retired, takes nothing). */
export const environmentNotActive = (orgSlug: string, env: { slug: string; status: string }) =>
  conflict('environment-not-active', `environment ${orgSlug}/${env.slug} is ${env.status}, not active`);

/** Throws `environmentNotActive` unless the environment is active. */
export function assertEnvironmentActive(orgSlug: string, env: { slug: string; status: string }): void {
  if (env.status !== 'active') throw environmentNotActive(orgSlug, env);
}

/** Whether a database error (or its cause, as drizzle wraps it) is a unique constraint's violation. */
export function isUniqueViolation(error: unknown): boolean {
  const { code, cause } = error as { code?: string; cause?: { code?: string } };
  return code === '23505' || cause?.code === '23505';
}

export const forbidden = (detail: string) => new ProblemError(403, 'forbidden', 'Forbidden', detail);
export const unauthorized = (detail: string) => new ProblemError(401, 'unauthorized', 'Unauthorized', detail);

/** 429: the caller may repeat the request after `retryAfterSeconds`, which `Retry-After` carries too. */
export function tooManyRequests(kind: string, detail: string, retryAfterSeconds: number): ProblemError {
  const error = new ProblemError(429, kind, 'Too many requests', detail);
  error.headers['retry-after'] = String(Math.max(1, Math.ceil(retryAfterSeconds)));
  return error;
}

/** Every error leaves the API as a problem document; unexpected ones say nothing about internals. */
export function installProblemHandlers(app: FastifyInstance): void {
  app.setNotFoundHandler((request, reply) => {
    void reply
      .code(404)
      .type('application/problem+json')
      .send(notFound(`route ${request.method} ${request.url.split('?')[0]}`).toProblem());
  });
  app.setErrorHandler((error: FastifyError, request, reply) => {
    let problem: Problem;
    if (error instanceof ProblemError) {
      problem = error.toProblem();
      void reply.headers(error.headers);
    } else if (hasZodFastifySchemaValidationErrors(error)) {
      problem = {
        type: problemType('validation-failed'),
        title: 'Invalid request',
        status: 400,
        detail: `the request ${error.validationContext ?? 'body'} does not match the schema`,
        errors: error.validation.map((issue) => ({
          path: issue.instancePath || '/',
          message: issue.message ?? 'invalid',
        })),
      };
    } else if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      problem = {
        type: problemType('body-too-large'),
        title: 'Request body too large',
        status: 413,
        detail: error.message,
      };
    } else if (error.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
      problem = {
        type: problemType('unsupported-media-type'),
        title: 'Unsupported media type',
        status: 415,
        detail: 'send application/json',
      };
    } else if (isDatabaseUnavailable(error)) {
      request.log.warn({ err: { message: error.message, code: error.code } }, 'control database unavailable');
      void reply.header('retry-after', String(DATABASE_RETRY_AFTER_SECONDS));
      problem = {
        type: problemType('database-unavailable'),
        title: 'Service unavailable',
        status: 503,
        detail: `the control database cannot be reached; retry in ${DATABASE_RETRY_AFTER_SECONDS} s`,
      };
    } else if (error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500) {
      problem = {
        type: problemType('malformed-request'),
        title: 'Malformed request',
        status: error.statusCode,
        detail: error.message,
      };
    } else {
      request.log.error(
        { err: { name: error.name, message: error.message, code: error.code, stack: error.stack } },
        'unexpected error',
      );
      problem = {
        type: problemType('internal'),
        title: 'Internal error',
        status: 500,
        detail: 'the request failed; it is logged with its request id',
      };
    }
    void reply.code(problem.status).type('application/problem+json').send(problem);
  });
}
