/**
 * What crosses the line between the control API, which queues and dispatches webhook deliveries,
 * and the environment's worker, which sends them: the events, the metadata-only payload, the
 * delivery workflow's input and result, and one attempt's record.
 */

export const WEBHOOK_EVENTS = [
  'run.completed',
  'run.failed',
  'run.canceled',
  'run.timed_out',
  'run.terminated',
  'schedule.paused',
  'schedule.resumed',
] as const;
export type WebhookEvent = (typeof WEBHOOK_EVENTS)[number];

export const WEBHOOK_WORKFLOW_TYPE = 'webhookDelivery';
/** The name of the delivery workflow's query that answers its attempts so far. */
export const ATTEMPTS_QUERY = 'attempts';

/** What a delivery's body holds: identifiers, statuses, counts and links, never a record. */
export interface WebhookPayload {
  type: WebhookEvent;
  timestamp: string;
  data: Record<string, unknown>;
}

/** One attempt: when, the receiver's status code (none when it was not reached), how long, why not. */
export interface WebhookAttempt {
  at: string;
  statusCode: number | null;
  latencyMs: number;
  /** A short class ('timeout', 'connection refused', 'egress refused'...), never the answer's body. */
  error: string | null;
}

export interface WebhookDeliveryInput {
  deliveryId: string;
  endpointId: string;
  /**
   * Only in deliveries started before the URL was sealed with the signing secret (their recorded
   * histories still carry it). A URL may itself be a credential (a token in its path): it never
   * enters a workflow's input now; the activity reads it from the endpoint's sealed record.
   */
  url?: string;
  eventId: string;
  payload: WebhookPayload;
  /** Seconds to wait after each failed attempt; the last one repeats. */
  retryDelaysSeconds: number[];
  /** No attempt starts after this time (ISO 8601): the delivery then ends failed. */
  deadline: string;
}

export interface WebhookDeliveryResult {
  status: 'delivered' | 'failed';
  attempts: WebhookAttempt[];
}

/** What the activity sends: one attempt of one delivery. */
export interface WebhookAttemptInput {
  endpointId: string;
  /** Only from deliveries started before the URL was sealed (see WebhookDeliveryInput.url). */
  url?: string;
  eventId: string;
  payload: WebhookPayload;
}

/** The name under which an endpoint's signing secret is sealed in its environment's bucket. */
export const webhookSecretName = (endpointId: string): string => `webhook-${endpointId}`;
/** The entry of an endpoint's sealed record that holds its URL, sealed with its signing secret. */
export const SEALED_URL = 'url';

/** The wait after failed attempt `n` (from 0): the schedule's entry, its last one repeated. */
export function retryDelaySeconds(delays: readonly number[], n: number): number {
  return delays[Math.min(n, delays.length - 1)] ?? 60;
}
