import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import {
  generateWebhookSecret,
  secretKey,
  signWebhook,
  webhookHeaders,
} from '../../common/webhook-signature.js';

/** The example of the Standard Webhooks reference implementations' tests. */
const VECTOR = {
  secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
  id: 'msg_p5jXN8AQM9LWM0D4loKWxJek',
  timestamp: 1614265330,
  body: '{"test": 2432232314}',
  signature: 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
};

describe('webhook signatures (Standard Webhooks)', () => {
  it('match the known vector, and the published implementation signs the same', () => {
    expect(signWebhook(VECTOR.secret, VECTOR.id, VECTOR.timestamp, VECTOR.body)).toBe(VECTOR.signature);
    const published = new Webhook(VECTOR.secret).sign(
      VECTOR.id,
      new Date(VECTOR.timestamp * 1000),
      VECTOR.body,
    );
    expect(published).toBe(VECTOR.signature);
  });

  it('verify with the published implementation, with a generated secret', () => {
    const secret = generateWebhookSecret();
    const body = JSON.stringify({ type: 'run.completed', data: { runId: 'r', summary: { recordsRead: 3 } } });
    const headers = webhookHeaders(secret, 'msg_1', new Date(), body);
    expect(new Webhook(secret).verify(body, { ...headers })).toEqual(JSON.parse(body));
  });

  it('do not verify with another secret, another body or another id', () => {
    const secret = generateWebhookSecret();
    const body = '{"a":1}';
    const headers = { ...webhookHeaders(secret, 'msg_2', new Date(), body) };
    expect(() => new Webhook(generateWebhookSecret()).verify(body, headers)).toThrow();
    expect(() => new Webhook(secret).verify('{"a":2}', headers)).toThrow();
    expect(() => new Webhook(secret).verify(body, { ...headers, 'webhook-id': 'msg_3' })).toThrow();
  });

  it('carry unix seconds of the attempt, and the event id as given', () => {
    const at = new Date('2026-01-02T03:04:05.678Z');
    const headers = webhookHeaders(VECTOR.secret, 'msg_x', at, '{}');
    expect(headers['webhook-timestamp']).toBe(String(Math.floor(at.getTime() / 1000)));
    expect(headers['webhook-id']).toBe('msg_x');
    expect(headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/]{43}=$/);
  });

  it('generate secrets of 32 random bytes after whsec_', () => {
    const [a, b] = [generateWebhookSecret(), generateWebhookSecret()];
    expect(a).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(secretKey(a)).toHaveLength(32);
    expect(a).not.toBe(b);
  });
});
