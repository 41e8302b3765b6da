import { MockActivityEnvironment } from '@temporalio/testing';
import { ApplicationFailure } from '@temporalio/common';
import { Webhook } from 'standardwebhooks';
import { Agent } from 'undici';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createEgressHttp } from '../../activities/http.js';
import { createWebhookActivities } from '../../activities/webhook-delivery.js';
import type { SealedConnection } from '../../common/names.js';
import { generateWebhookSecret } from '../../common/webhook-signature.js';
import type { WebhookAttempt, WebhookAttemptInput } from '../../common/webhooks.js';
import { startWebhookReceiver } from '../../fixtures/webhook-receiver.js';
import type { WebhookReceiver } from '../../fixtures/webhook-receiver.js';

/** One attempt of deliverWebhook, against the fixture receiver over a direct connection. */
describe('deliverWebhook', () => {
  let receiver: WebhookReceiver;
  const secret = generateWebhookSecret();
  const vault: Record<string, SealedConnection> = {};
  const http = createEgressHttp(new Agent());
  const activities = createWebhookActivities({ http, credentials: { open: async (name) => vault[name]! } });
  const attempt = (input: WebhookAttemptInput): Promise<WebhookAttempt> =>
    new MockActivityEnvironment({ startToCloseTimeoutMs: 30_000 }).run(activities.deliverWebhook, input);
  const sent = new Date().toISOString();
  const input = (): WebhookAttemptInput => ({
    endpointId: 'e1',
    url: `${receiver.url}/hooks/tavio`,
    eventId: 'msg_test',
    payload: {
      type: 'run.completed',
      timestamp: sent,
      data: { runId: 'r1', summary: { recordsRead: 10 } },
    },
  });

  beforeAll(async () => {
    receiver = await startWebhookReceiver();
    vault['webhook-e1'] = { host: new URL(receiver.url).host, secrets: { signingSecret: secret } };
  });
  beforeEach(() => {
    receiver.received.length = 0;
    receiver.setDown(false);
    receiver.failNext(0);
  });
  afterAll(async () => {
    await receiver.close();
    await http.close();
  });

  it('POSTs the payload signed as Standard Webhooks asks, and answers the status and latency', async () => {
    const result = await attempt(input());
    expect(result).toMatchObject({ statusCode: 204, error: null });
    expect(result.latencyMs).toBeGreaterThanOrEqual(0);
    const [request] = receiver.received;
    expect(request!.path).toBe('/hooks/tavio');
    expect(request!.headers['content-type']).toBe('application/json');
    expect(request!.headers['webhook-id']).toBe('msg_test');
    const verified = new Webhook(secret).verify(request!.body, request!.headers as Record<string, string>);
    expect(verified).toEqual(input().payload);
  });

  it("answers a receiver's failure as an attempt with its status code, never its body", async () => {
    receiver.failNext(1);
    const result = await attempt(input());
    expect(result).toMatchObject({ statusCode: 500, error: 'status 500' });
    expect(JSON.stringify(result)).not.toContain('injected');
  });

  it('answers a dropped connection as an attempt without a status code', async () => {
    receiver.setDown(true);
    const result = await attempt(input());
    expect(result.statusCode).toBeNull();
    expect(result.error).toMatch(/^[a-z ]+$/);
  });

  it('refuses a URL on another host than the one its secret was sealed for', async () => {
    const moved = { ...input(), url: 'http://127.0.1.1:9/elsewhere' };
    const failure = await attempt(moved).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(ApplicationFailure);
    expect((failure as ApplicationFailure).type).toBe('EgressRefused');
    expect(receiver.received).toHaveLength(0);
  });
});
