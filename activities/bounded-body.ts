import { ApplicationFailure } from '@temporalio/common';
import type { Response } from './http.js';
import { FailureType, RetryableType } from '../common/failures.js';
import { abortFailure } from './egress.js';

function tooLarge(what: string, limitBytes: number, size: string): ApplicationFailure {
  return ApplicationFailure.nonRetryable(
    `${what} answered with ${size}, over the ${limitBytes}-byte limit of one answer`,
    FailureType.ResponseTooLarge,
  );
}

/**
 * The length the answer declares, when it counts the bytes that will be read: an encoded body is
 * decompressed, so its Content-Length says nothing about what the stream will yield.
 */
function declaredLength(response: Response): number | undefined {
  const encoding = response.headers.get('content-encoding');
  if (encoding && encoding.toLowerCase() !== 'identity') return undefined;
  const length = Number(response.headers.get('content-length') ?? Number.NaN);
  return Number.isSafeInteger(length) && length >= 0 ? length : undefined;
}

/**
 * Reads a body of at most `limitBytes` (after decompression). Beyond it, the stream is cancelled,
 * which closes the connection, and a non-retryable `ResponseTooLarge` failure names `what` (for
 * example `source api.example.com`): the same request would be as large again. A declared
 * Content-Length over the limit is refused before a byte is read.
 */
export async function readBodyLimited(response: Response, limitBytes: number, what: string): Promise<Buffer> {
  const declared = declaredLength(response);
  if (declared !== undefined && declared > limitBytes) {
    await response.cancel().catch(() => undefined);
    throw tooLarge(what, limitBytes, `a declared ${declared}-byte body`);
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for await (const chunk of response.body) {
      size += chunk.byteLength;
      if (size > limitBytes) {
        await response.cancel().catch(() => undefined);
        throw tooLarge(what, limitBytes, 'a longer body');
      }
      chunks.push(chunk);
    }
  } catch (error) {
    throw abortFailure(error, what);
  }
  return Buffer.concat(chunks, size);
}

/**
 * Reads and parses a JSON body of at most `limitBytes`. A body that is not JSON is refused without
 * quoting it (a parser's message quotes the text it choked on, which may be customer data), as a
 * retryable failure: a truncated answer or an error page of a proxy on the way is transient.
 */
export async function readJsonLimited(
  response: Response,
  limitBytes: number,
  what: string,
): Promise<unknown> {
  const body = await readBodyLimited(response, limitBytes, what);
  try {
    return JSON.parse(body.toString('utf8')) as unknown;
  } catch {
    throw ApplicationFailure.retryable(
      `${what} answered with a body that is not JSON`,
      RetryableType.UpstreamUnavailable,
    );
  }
}
