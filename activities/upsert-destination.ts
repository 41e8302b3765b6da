import { createHash } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/common';
import { z } from 'zod';
import { FailureType, RetryableType } from '../common/failures.js';
import { readJsonLimited } from './bounded-body.js';
import type { GatewayHttp, Response } from './http.js';
import { retryAfterSeconds } from './retry-after.js';

/**
 * An upsert-rest destination: canonical employees go to `POST /v1/employees/batch-upsert` in
 * pages, upserted by externalId; employees who left are deactivated by externalId. Shared by every
 * integration that loads employees.
 */

export type Side = 'Source' | 'Destination';

/**
 * Classifies an unsuccessful answer, whose body is left unread and its connection closed. Messages
 * carry the status and the host, never a body: a body may hold customer data.
 */
export async function failureFor(side: Side, response: Response, url: string): Promise<Error> {
  await response.cancel().catch(() => undefined);
  const where = `${side.toLowerCase()} ${new URL(url).host} answered ${response.status}`;
  if (response.status === 429) {
    const seconds = retryAfterSeconds(response.headers.get('retry-after'));
    return ApplicationFailure.create({
      type: RetryableType.RateLimited,
      message: `${where} (rate limited)`,
      nextRetryDelay: seconds === undefined ? undefined : `${seconds} seconds`,
    });
  }
  if (response.status === 401 || response.status === 403) {
    return ApplicationFailure.nonRetryable(
      `${where}: credentials refused`,
      FailureType[`${side}AuthRejected`],
    );
  }
  if (response.status >= 400 && response.status < 500 && response.status !== 408) {
    return ApplicationFailure.nonRetryable(
      `${where}: request refused`,
      FailureType[`${side}RequestRejected`],
    );
  }
  return ApplicationFailure.retryable(`${where}`, RetryableType.UpstreamUnavailable);
}

/** SHA-256 of the records' JSON texts, one after another: a page's checksum. */
export function checksumOf(texts: readonly string[]): string {
  const hash = createHash('sha256');
  for (const text of texts) hash.update(text);
  return hash.digest('hex');
}

export interface UpsertTarget {
  http: GatewayHttp;
  baseUrl: string;
  token: string;
  /** Hosts the attempt may reach through the gateway. */
  allowed: ReadonlySet<string>;
  responseLimitBytes: number;
}

/** A full sync's session: the run, and the ids of the source records it saw but skipped. */
export interface UpsertSession {
  id: string;
  seen: readonly string[];
}

async function post(target: UpsertTarget, path: string, body: string): Promise<unknown> {
  const url = new URL(path, target.baseUrl).href;
  const response = await target.http.fetch(
    url,
    {
      method: 'POST',
      headers: { authorization: `Bearer ${target.token}`, 'content-type': 'application/json' },
      body,
    },
    target.allowed,
  );
  if (!response.ok) throw await failureFor('Destination', response, url);
  return readJsonLimited(response, target.responseLimitBytes, `destination ${new URL(url).host}`);
}

/**
 * Upserts records given as their JSON texts (serialized once, for the checksum and the body); returns
 * how many the destination took. In a `session`, a page of skipped records alone is sent too: the
 * destination learns that they exist at the source.
 */
export async function upsertEmployees(
  target: UpsertTarget,
  records: readonly string[],
  session?: UpsertSession,
): Promise<number> {
  if (records.length === 0 && (session?.seen.length ?? 0) === 0) return 0;
  const sessionFields = session
    ? `,"session":${JSON.stringify(session.id)},"seen":${JSON.stringify(session.seen)}`
    : '';
  const body = await post(
    target,
    '/v1/employees/batch-upsert',
    `{"records":[${records.join(',')}]${sessionFields}}`,
  );
  const answer = z.object({ upserted: z.number().int() }).safeParse(body);
  return answer.success ? answer.data.upserted : records.length;
}

/** Why an employee is taken out of service at the destination. */
export type DeactivationReason = 'terminated' | 'deleted';

export interface Deactivation {
  externalId: string;
  reason: DeactivationReason;
}

const deactivatedAnswer = z.object({ deactivated: z.number().int().nonnegative() });

/** Deactivates employees by externalId; returns how many the destination deactivated. */
export async function deactivateEmployees(
  target: UpsertTarget,
  records: readonly Deactivation[],
): Promise<number> {
  if (records.length === 0) return 0;
  const body = await post(target, '/v1/employees/deactivate', JSON.stringify({ records }));
  const answer = deactivatedAnswer.safeParse(body);
  return answer.success ? answer.data.deactivated : records.length;
}

/**
 * Ends a full sync's session: the destination deactivates every active employee that the session
 * neither upserted nor saw. Asked again for the same session, it answers the same count.
 */
export async function deactivateMissing(target: UpsertTarget, session: string): Promise<number> {
  const url = new URL('/v1/employees/deactivate-missing', target.baseUrl);
  const answer = deactivatedAnswer.safeParse(await post(target, url.pathname, JSON.stringify({ session })));
  if (answer.success) return answer.data.deactivated;
  throw ApplicationFailure.nonRetryable(
    `destination ${url.host} answered deactivate-missing without a count`,
    FailureType.DestinationRequestRejected,
  );
}
