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
    eventId: 'msg_test',
    payload: {
      type: 'run.completed',
      timestamp: sent,
      data: { runId: 'r1', summary: { recordsRead: 10 } },
    },
  });

  beforeAll(async () => {
    receiver = await startWebhookReceiver();
    vault['webhook-e1'] = {
      host: new URL(receiver.url).host,
      secrets: { signingSecret: secret, url: `${receiver.url}/hooks/tavio` },
    };
    // An endpoint sealed before its URL was: only an input that carries the URL reaches it.
    vault['webhook-e0'] = { host: new URL(receiver.url).host, secrets: { signingSecret: secret } };
  });
  beforeEach(() => {
    receiver.received.length = 0;
    receiver.setDown(false);
    receiver.failNext(0);
    receiver.redirectNext(0, '/');
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

  it('answers a redirect as a failed attempt and does not follow it', async () => {
    receiver.redirectNext(1, '/elsewhere');
    const result = await attempt(input());
    expect(result).toMatchObject({ statusCode: 302, error: 'status 302' });
    expect(receiver.received.map((r) => [r.path, r.answered])).toEqual([['/hooks/tavio', 302]]);
  });

  it('POSTs to the sealed URL, not to a URL an input carries', async () => {
    const result = await attempt({ ...input(), url: `${receiver.url}/from-the-input` });
    expect(result.statusCode).toBe(204);
    expect(receiver.received.map((r) => r.path)).toEqual(['/hooks/tavio']);
  });

  it("takes an older delivery's URL from its input when the sealed record has none, on the sealed host only", async () => {
    const older = { ...input(), endpointId: 'e0', url: `${receiver.url}/older` };
    expect((await attempt(older)).statusCode).toBe(204);
    expect(receiver.received.map((r) => r.path)).toEqual(['/older']);
    const moved = { ...older, url: 'http://127.0.1.1:9/elsewhere' };
    const failure = await attempt(moved).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(ApplicationFailure);
    expect((failure as ApplicationFailure).type).toBe('EgressRefused');
    expect(receiver.received).toHaveLength(1);
  });

  it('sends nothing when neither the sealed record nor the input names a URL', async () => {
    const failure = await attempt({ ...input(), endpointId: 'e0' }).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(ApplicationFailure);
    expect((failure as ApplicationFailure).type).toBe('CredentialsUnavailable');
    expect(receiver.received).toHaveLength(0);
  });
});
