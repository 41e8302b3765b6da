import { createHash } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/common';
import { z } from 'zod';
import { FailureType, RetryableType } from '../common/failures.js';
import { readJsonLimited } from './bounded-body.js';
import type { GatewayHttp, Response } from './http.js';
import { retryAfterSeconds } from './retry-after.js';

/**
 * An upsert-rest destination: canonical employees go to `POST /v1/employees/batch-upsert` in
 * pages, upserted by externalId. Shared by every integration that loads employees.
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

/** Upserts records given as their JSON texts (serialized once, for the checksum and the body); returns how many the destination took. */
export async function upsertEmployees(target: UpsertTarget, records: readonly string[]): Promise<number> {
  if (records.length === 0) return 0;
  const url = new URL('/v1/employees/batch-upsert', target.baseUrl).href;
  const response = await target.http.fetch(
    url,
    {
      method: 'POST',
      headers: { authorization: `Bearer ${target.token}`, 'content-type': 'application/json' },
      body: `{"records":[${records.join(',')}]}`,
    },
    target.allowed,
  );
  if (!response.ok) throw await failureFor('Destination', response, url);
  const body = await readJsonLimited(response, target.responseLimitBytes, `destination ${new URL(url).host}`);
  const answer = z.object({ upserted: z.number().int() }).safeParse(body);
  return answer.success ? answer.data.upserted : records.length;
}
