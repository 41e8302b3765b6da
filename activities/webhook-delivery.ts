import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { FailureType, RetryableType } from '../common/failures.js';
import { webhookHeaders } from '../common/webhook-signature.js';
import { SEALED_URL, webhookSecretName } from '../common/webhooks.js';
import type { WebhookAttempt, WebhookAttemptInput } from '../common/webhooks.js';
import { assertSealedHost } from './credentials.js';
import type { CredentialOpener } from './credentials.js';
import { withActivityEgress } from './egress.js';
import type { GatewayHttp, Response } from './http.js';

/** How long one attempt waits for the receiver's answer. */
export const WEBHOOK_TIMEOUT_MS = 10_000;
/** What is read of an answer before it is dropped: receivers are asked for a status code only. */
const ANSWER_BYTES = 4096;

/** The gateway's own error pages (for a plain-HTTP receiver it cannot reach), as short classes. */
const GATEWAY_ERRORS: Record<string, string> = {
  ERR_CONNECT_FAIL: 'connection refused',
  ERR_DNS_FAIL: 'name not resolved',
  ERR_READ_TIMEOUT: 'timeout',
  ERR_LIFETIME_EXP: 'timeout',
  ERR_ZERO_SIZE_OBJECT: 'empty answer',
  ERR_READ_ERROR: 'connection reset',
  ERR_WRITE_ERROR: 'connection reset',
};

/** Drops an answer's body after at most a few KiB: never kept, never reported. */
async function drain(response: Response): Promise<void> {
  let size = 0;
  try {
    for await (const chunk of response.body) {
      size += chunk.byteLength;
      if (size > ANSWER_BYTES) break;
    }
  } finally {
    await response.cancel().catch(() => undefined);
  }
}

/** An attempt's failure as a short class: the failure's type or a tunnel's status, never its text. */
function errorClass(error: unknown): string {
  if (!(error instanceof ApplicationFailure)) return 'request failed';
  switch (error.type) {
    case RetryableType.RequestTimedOut:
      return 'timeout';
    case RetryableType.GatewayUnavailable:
      return 'gateway unavailable';
    case FailureType.EgressRefused:
      // A tunnel the gateway could not open to the receiver (it answered 502/503/504) is the
      // receiver being away, not a refusal.
      return /tunnel answered 50[234]/.test(error.message) ? 'connection refused' : 'egress refused';
    default:
      return 'request failed';
  }
}

/**
 * deliverWebhook: one attempt of one delivery. Opens the endpoint's sealed record (its signing
 * secret and URL, bound to the URL's host), signs the body as Standard Webhooks asks, and POSTs it
 * to that URL through the region's gateway, never following a redirect (a 3xx is a failed attempt).
 * It answers the attempt, whatever the receiver did: the workflow decides about retries. Only a
 * record that cannot be opened (or holds no URL or secret) fails it.
 */
export function createWebhookActivities(deps: { http: GatewayHttp; credentials: CredentialOpener }) {
  return {
    async deliverWebhook(input: WebhookAttemptInput): Promise<WebhookAttempt> {
      const sealed = await deps.credentials.open(webhookSecretName(input.endpointId));
      // Endpoints sealed before their URL was: the URL of an input that still carries one.
      const url = sealed.secrets[SEALED_URL] ?? input.url;
      if (!url)
        throw ApplicationFailure.nonRetryable(
          `webhook endpoint ${input.endpointId} has no URL sealed`,
          FailureType.CredentialsUnavailable,
        );
      assertSealedHost('webhook endpoint', { id: input.endpointId, baseUrl: url }, sealed);
      const secret = sealed.secrets.signingSecret;
      if (!secret)
        throw ApplicationFailure.nonRetryable(
          `webhook endpoint ${input.endpointId} has no signing secret sealed`,
          FailureType.CredentialsUnavailable,
        );
      const body = JSON.stringify(input.payload);
      const at = new Date();
      const started = performance.now();
      const latencyMs = () => Math.round(performance.now() - started);
      const { result } = await withActivityEgress(async (): Promise<WebhookAttempt> => {
        try {
          const response = await deps.http.fetch(
            url,
            {
              method: 'POST',
              // A redirect is an answer like any other (a failed attempt): following it would send
              // the signed body, or a GET in its place, somewhere the endpoint does not name.
              redirect: 'manual',
              headers: {
                'content-type': 'application/json',
                'user-agent': 'Tavio-Webhooks/1',
                ...webhookHeaders(secret, input.eventId, at, body),
              },
              body,
              signal: AbortSignal.timeout(WEBHOOK_TIMEOUT_MS),
            },
            new Set([new URL(url).host]),
          );
          const took = latencyMs();
          const gatewayError = response.headers.get('x-squid-error')?.split(' ')[0];
          await drain(response);
          if (gatewayError)
            return {
              at: at.toISOString(),
              statusCode: null,
              latencyMs: took,
              error: GATEWAY_ERRORS[gatewayError] ?? 'gateway error',
            };
          return {
            at: at.toISOString(),
            statusCode: response.status,
            latencyMs: took,
            error: response.ok ? null : `status ${response.status}`,
          };
        } catch (error) {
          if (error instanceof CancelledFailure) throw error;
          return { at: at.toISOString(), statusCode: null, latencyMs: latencyMs(), error: errorClass(error) };
        }
      });
      return result;
    },
  };
}
export type WebhookActivities = ReturnType<typeof createWebhookActivities>;
