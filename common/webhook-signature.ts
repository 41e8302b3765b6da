import { createHmac, randomBytes } from 'node:crypto';

/**
 * Webhook signing as the Standard Webhooks specification defines it
 * (https://www.standardwebhooks.com): a secret `whsec_<base64 of the key bytes>`, and three headers
 * on each request: `webhook-id` (the event's id, the same on every attempt and redelivery),
 * `webhook-timestamp` (unix seconds of the attempt) and `webhook-signature`
 * (`v1,<base64 HMAC-SHA256 over "<id>.<timestamp>.<body>">`, several separated by spaces).
 */

export const SECRET_PREFIX = 'whsec_';
/** Key bytes of a secret the platform generates: the specification asks for 24 to 64. */
const SECRET_BYTES = 32;

export interface WebhookHeaders {
  'webhook-id': string;
  'webhook-timestamp': string;
  'webhook-signature': string;
}

/** A new signing secret, `whsec_` and the base64 of 32 random bytes. */
export function generateWebhookSecret(): string {
  return `${SECRET_PREFIX}${randomBytes(SECRET_BYTES).toString('base64')}`;
}

/** The key bytes of a secret: what follows `whsec_`, base64-decoded. */
export function secretKey(secret: string): Buffer {
  const encoded = secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret;
  const key = Buffer.from(encoded, 'base64');
  if (key.length === 0) throw new Error('a webhook secret has key bytes after whsec_');
  return key;
}

/** `v1,<signature>` of one message: id, unix seconds and the exact body bytes sent. */
export function signWebhook(secret: string, id: string, timestampSeconds: number, body: string): string {
  const mac = createHmac('sha256', secretKey(secret))
    .update(`${id}.${timestampSeconds}.${body}`, 'utf8')
    .digest('base64');
  return `v1,${mac}`;
}

/** The headers that go with `body` on an attempt made at `at`. */
export function webhookHeaders(secret: string, id: string, at: Date, body: string): WebhookHeaders {
  const timestamp = Math.floor(at.getTime() / 1000);
  return {
    'webhook-id': id,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': signWebhook(secret, id, timestamp, body),
  };
}
