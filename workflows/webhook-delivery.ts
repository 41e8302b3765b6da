import {
  ActivityFailure,
  ApplicationFailure,
  defineQuery,
  proxyActivities,
  setHandler,
  sleep,
} from '@temporalio/workflow';
import type { WebhookActivities } from '../activities/types.js';
import { ATTEMPTS_QUERY, retryDelaySeconds } from '../common/webhooks.js';
import type { WebhookAttempt, WebhookDeliveryInput, WebhookDeliveryResult } from '../common/webhooks.js';
import { RETRY } from './retry.js';

/**
 * One attempt answers whatever the receiver did; the activity fails only when the secret cannot be
 * opened (or the worker could not run it), which a few retries settle or never will.
 */
const { deliverWebhook } = proxyActivities<WebhookActivities>({
  startToCloseTimeout: '30 seconds',
  retry: { ...RETRY, maximumAttempts: 3 },
});

/** The attempts so far, read by the control API while the delivery waits to try again. */
export const attemptsQuery = defineQuery<WebhookAttempt[]>(ATTEMPTS_QUERY);

const delivered = (attempt: WebhookAttempt): boolean =>
  attempt.statusCode !== null && attempt.statusCode >= 200 && attempt.statusCode < 300;

/** The class of a failed activity: its failure type, never its message. */
function failedAttempt(error: ActivityFailure, at: number, latencyMs: number): WebhookAttempt {
  const cause = error.cause;
  const type = cause instanceof ApplicationFailure && cause.type ? cause.type : 'ActivityFailed';
  return { at: new Date(at).toISOString(), statusCode: null, latencyMs, error: `not sent: ${type}` };
}

/**
 * webhookDelivery: sends one event to one endpoint, in the environment's namespace on its region's
 * queue. A 2xx answer ends it delivered; any other answer or none waits (a durable timer) by the
 * input's schedule of delays and tries again, until the next attempt would start after the
 * deadline: then it ends failed. A secret that cannot be opened ends it failed at once. The run it
 * reports on never waits for it.
 */
export async function webhookDelivery(input: WebhookDeliveryInput): Promise<WebhookDeliveryResult> {
  const attempts: WebhookAttempt[] = [];
  setHandler(attemptsQuery, () => attempts);
  const deadline = Date.parse(input.deadline);
  for (let n = 0; ; n++) {
    const startedAt = Date.now();
    try {
      // The URL is read from the endpoint's sealed record; only deliveries started before it was
      // sealed there still carry it in their input (and pass it on).
      const attempt = await deliverWebhook({
        endpointId: input.endpointId,
        ...(input.url === undefined ? {} : { url: input.url }),
        eventId: input.eventId,
        payload: input.payload,
      });
      attempts.push(attempt);
      if (delivered(attempt)) return { status: 'delivered', attempts };
    } catch (error) {
      if (!(error instanceof ActivityFailure)) throw error;
      attempts.push(failedAttempt(error, startedAt, Date.now() - startedAt));
      return { status: 'failed', attempts };
    }
    const waitMs = retryDelaySeconds(input.retryDelaysSeconds, n) * 1000;
    if (Date.now() + waitMs > deadline) return { status: 'failed', attempts };
    await sleep(waitMs);
  }
}
