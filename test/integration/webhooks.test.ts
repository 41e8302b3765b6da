import { randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WebhookDelivery, WebhookEndpointWithSecret } from '../../control-api/client.js';
import { TavioApiError } from '../../control-api/client.js';
import { startWebhookReceiver } from '../../fixtures/webhook-receiver.js';
import type { ReceivedWebhook, WebhookReceiver } from '../../fixtures/webhook-receiver.js';
import { testDatabase } from '../support/database.js';
import { gatewayMarks, gatewayRequests } from '../support/gateways.js';
import type { GatewayMarks } from '../support/gateways.js';
import type { EnvScenario } from '../support/scenario.js';
import { decodedText, histories, newEnvironment, runRequest } from '../support/scenario.js';

/** Polls `read` until `done` holds of its answer, or fails after `timeoutMs`. */
async function until<T>(read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline)
      throw new Error(`still not there after ${timeoutMs} ms: ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

const headersOf = (request: ReceivedWebhook) => request.headers as Record<string, string>;

describe('completion webhooks', () => {
  let s: EnvScenario;
  let receiver: WebhookReceiver;
  let endpoint: WebhookEndpointWithSecret;
  let marks: GatewayMarks;
  /** The first delivery of the first run's close, redelivered later. */
  let first: WebhookDelivery;
  const endpoints: string[] = [];
  const receivers: WebhookReceiver[] = [];

  const newReceiver = async () => {
    const started = await startWebhookReceiver();
    receivers.push(started);
    return started;
  };
  const register = async (url: string) => {
    const created = await s.client.createWebhookEndpoint(s.org, s.env, { url, events: ['run.completed'] });
    endpoints.push(created.id);
    return created;
  };
  const deliveriesOf = (endpointId: string) => s.client.listWebhookDeliveries(s.org, s.env, endpointId);
  const settled = (endpointId: string, timeoutMs?: number) =>
    until(
      () => deliveriesOf(endpointId),
      (list) => list.length > 0 && list.every((d) => d.status === 'delivered' || d.status === 'failed'),
      timeoutMs,
    );

  beforeAll(async () => {
    marks = gatewayMarks();
    s = await newEnvironment('us', { employees: 40, rateLimitEvery: 0 });
    receiver = await newReceiver();
    endpoint = await register(`${receiver.url}/hooks/tavio`);
  });
  afterAll(async () => {
    for (const id of endpoints) await s.client.deleteWebhookEndpoint(s.org, s.env, id).catch(() => undefined);
    await Promise.all(receivers.map((r) => r.close()));
    await s.close();
  });

  it('shows the signing secret once, and never again', async () => {
    expect(endpoint.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    const read = await s.client.getWebhookEndpoint(s.org, s.env, endpoint.id);
    const listed = await s.client.listWebhookEndpoints(s.org, s.env);
    expect(read).toMatchObject({ id: endpoint.id, events: ['run.completed'], secretVersion: 1 });
    expect(read).not.toHaveProperty('secret');
    expect(JSON.stringify(listed)).not.toContain(endpoint.secret);
    const database = testDatabase();
    try {
      // Neither the endpoint's row nor its audit entry hold the secret.
      const rows = await database.db.execute(
        sql`select row_to_json(w)::text as t from webhook_endpoints w where id = ${endpoint.id}
            union all select row_to_json(a)::text from audit_log a where target = ${endpoint.id}`,
      );
      expect(rows.length).toBeGreaterThanOrEqual(2);
      expect(JSON.stringify(rows)).not.toContain(endpoint.secret.slice(6));
    } finally {
      await database.close();
    }
  });

  it('delivers run.completed, signed, with counts and links only, through the region gateway', async () => {
    const run = await s.client.createRun(s.org, s.env, runRequest(s));
    const done = await s.client.waitForRun(s.org, s.env, run.id);
    expect(done.status).toBe('completed');
    const [request] = await receiver.waitFor(1);
    expect(request!.path).toBe('/hooks/tavio');
    const payload = new Webhook(endpoint.secret).verify(request!.body, headersOf(request!)) as {
      type: string;
      data: Record<string, unknown>;
    };
    expect(payload.type).toBe('run.completed');
    expect(payload.data).toMatchObject({
      organization: s.org,
      environment: s.env,
      runId: run.id,
      integration: 'hris-employee-sync',
      status: 'completed',
      failureType: null,
      summary: expect.objectContaining({ recordsRead: 40, recordsWritten: 40 }),
    });
    const links = payload.data.links as { run: string; webUi: string };
    expect(links.run).toMatch(new RegExp(`/v1/organizations/${s.org}/environments/${s.env}/runs/${run.id}$`));
    expect(links.webUi).toBe(done.webUiUrl);
    for (const employee of s.source.employees.slice(0, 40)) {
      expect(request!.body).not.toContain(employee.last_name);
      expect(request!.body).not.toContain(employee.national_id);
    }
    first = (await settled(endpoint.id))[0]!;
    expect(first).toMatchObject({ status: 'delivered', event: 'run.completed', redeliveryOf: null });
    expect(first.eventId).toBe(request!.headers['webhook-id']);
    expect(first.attempts).toEqual([
      { at: expect.any(String), statusCode: 204, latencyMs: expect.any(Number), error: null },
    ]);
    // The request left through the environment's region gateway, which logged it as forwarded.
    expect(gatewayRequests('us1', marks, new URL(receiver.url).origin, 'POST')).toBe(1);
    // The delivery's history holds the payload's metadata, never the secret.
    const history = decodedText(await histories(s.environment.namespace, `webhook-delivery-${first.id}`));
    expect(history).toContain(run.id);
    expect(history).not.toContain(endpoint.secret.slice(6));
    // Nor its URL (which may be a credential itself): the activity reads it from the sealed record.
    expect(history).not.toContain('/hooks/tavio');
    expect(history).not.toContain(new URL(receiver.url).host);
  });

  it('retries a failing receiver with backoff and records each attempt; a redirect is a failed attempt, never followed', async () => {
    const flaky = await newReceiver();
    flaky.failNext(2);
    const hook = await register(`${flaky.url}/flaky`);
    const moving = await newReceiver();
    moving.redirectNext(1, `${moving.url}/target`);
    const redirecting = await register(`${moving.url}/redirecting`);
    await s.client.waitForRun(s.org, s.env, (await s.client.createRun(s.org, s.env, runRequest(s))).id);
    const requests = await flaky.waitFor(3);
    expect(requests.map((r) => r.answered)).toEqual([500, 500, 204]);
    // Every attempt carries the same event id, each signed afresh.
    expect(new Set(requests.map((r) => r.headers['webhook-id'])).size).toBe(1);
    for (const r of requests)
      expect(() => new Webhook(hook.secret).verify(r.body, headersOf(r))).not.toThrow();
    expect(requests[1]!.at - requests[0]!.at).toBeGreaterThanOrEqual(900);
    expect(requests[2]!.at - requests[1]!.at).toBeGreaterThanOrEqual(1900);
    const [delivery] = await settled(hook.id);
    expect(delivery!.status).toBe('delivered');
    expect(delivery!.attempts.map((a) => [a.statusCode, a.error])).toEqual([
      [500, 'status 500'],
      [500, 'status 500'],
      [204, null],
    ]);
    for (const attempt of delivery!.attempts) expect(attempt.latencyMs).toBeGreaterThanOrEqual(0);
    // The 302 was answered, not followed: no request (POST or GET) reached its location.
    const [redirected] = await settled(redirecting.id);
    expect(redirected!.status).toBe('delivered');
    expect(redirected!.attempts.map((a) => [a.statusCode, a.error])).toEqual([
      [302, 'status 302'],
      [204, null],
    ]);
    expect(moving.received.map((r) => [r.path, r.answered])).toEqual([
      ['/redirecting', 302],
      ['/redirecting', 204],
    ]);
    await s.client.deleteWebhookEndpoint(s.org, s.env, hook.id);
    await s.client.deleteWebhookEndpoint(s.org, s.env, redirecting.id);
  });

  it('redelivers with the same webhook-id and a fresh signature', async () => {
    const before = receiver.received.length;
    const original = receiver.received.find((r) => r.headers['webhook-id'] === first.eventId)!;
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    const again = await s.client.redeliverWebhook(s.org, s.env, first.id);
    expect(again).toMatchObject({ eventId: first.eventId, redeliveryOf: first.id, payload: first.payload });
    expect(again.id).not.toBe(first.id);
    // One at a time: while it is queued or delivering, another redelivery of the event is refused.
    const listed = (await deliveriesOf(endpoint.id)).length;
    const twice = await s.client.redeliverWebhook(s.org, s.env, first.id).catch((e: unknown) => e);
    expect(twice).toBeInstanceOf(TavioApiError);
    expect([(twice as TavioApiError).problem.status, (twice as TavioApiError).problem.type]).toEqual([
      409,
      'https://tavio.dev/problems/redelivery-in-progress',
    ]);
    expect(await deliveriesOf(endpoint.id)).toHaveLength(listed);
    const requests = await receiver.waitFor(before + 1);
    const repeat = requests.slice(before).find((r) => r.headers['webhook-id'] === first.eventId)!;
    expect(repeat.body).toBe(original.body);
    expect(repeat.headers['webhook-signature']).not.toBe(original.headers['webhook-signature']);
    expect(() => new Webhook(endpoint.secret).verify(repeat.body, headersOf(repeat))).not.toThrow();
    const settledAgain = await until(
      () => s.client.getWebhookDelivery(s.org, s.env, again.id),
      (d) => d.status === 'delivered',
    );
    expect(settledAgain.attempts).toHaveLength(1);
  });

  it('signs with the new secret only after a rotation', async () => {
    const rotated = await s.client.rotateWebhookSecret(s.org, s.env, endpoint.id);
    expect(rotated.secretVersion).toBe(2);
    expect(rotated.secret).not.toBe(endpoint.secret);
    const before = receiver.received.length;
    const again = await s.client.redeliverWebhook(s.org, s.env, first.id);
    const requests = await receiver.waitFor(before + 1);
    const repeat = requests.slice(before).find((r) => r.headers['webhook-id'] === again.eventId)!;
    expect(() => new Webhook(rotated.secret).verify(repeat.body, headersOf(repeat))).not.toThrow();
    expect(() => new Webhook(endpoint.secret).verify(repeat.body, headersOf(repeat))).toThrow();
    // Ended before the next redelivery of the same event (one at a time).
    await until(
      () => s.client.getWebhookDelivery(s.org, s.env, again.id),
      (d) => d.status === 'delivered',
    );
  });

  it('gives a new URL a new secret, sealed for its host, and refuses a bad one without a change', async () => {
    const refused = await s.client
      .updateWebhookEndpoint(s.org, s.env, endpoint.id, { url: 'http://hooks.example.com/' })
      .catch((e: unknown) => e);
    expect((refused as TavioApiError).problem.type).toBe('https://tavio.dev/problems/webhook-url-refused');
    expect((await s.client.getWebhookEndpoint(s.org, s.env, endpoint.id)).secretVersion).toBe(2);
    const moved = await newReceiver();
    const updated = await s.client.updateWebhookEndpoint(s.org, s.env, endpoint.id, {
      url: `${moved.url}/moved`,
      description: 'the moved receiver',
    });
    expect(updated).toMatchObject({ secretVersion: 3, description: 'the moved receiver' });
    expect(updated.secret).toMatch(/^whsec_/);
    await s.client.redeliverWebhook(s.org, s.env, first.id);
    const [request] = await moved.waitFor(1);
    expect(request!.path).toBe('/moved');
    expect(() => new Webhook(updated.secret!).verify(request!.body, headersOf(request!))).not.toThrow();
  });

  it('does not slow or fail the run when the endpoint is down; its delivery ends failed in bounded time', async () => {
    const gone = await newReceiver();
    await gone.close();
    const hook = await register(`${gone.url}/down`);
    const started = Date.now();
    const run = await s.client.createRun(s.org, s.env, runRequest(s));
    const done = await s.client.waitForRun(s.org, s.env, run.id, { timeoutMs: 60_000 });
    expect(done.status).toBe('completed');
    // The first run took seconds; this one is not held by a receiver that never answers.
    expect(Date.now() - started).toBeLessThan(45_000);
    // While it waits to try again, its attempts so far are read from the delivery workflow.
    const waiting = await until(
      () => deliveriesOf(hook.id),
      (list) => list[0]?.status === 'delivering' && list[0].attempts.length >= 2,
      30_000,
    );
    expect(waiting[0]!.attempts[0]!.error).toBe('connection refused');
    const [delivery] = await settled(hook.id, 90_000);
    expect(delivery!.status).toBe('failed');
    expect(delivery!.attempts.length).toBeGreaterThanOrEqual(3);
    for (const attempt of delivery!.attempts) {
      expect(attempt.statusCode).toBeNull();
      expect(attempt.error).toBe('connection refused');
    }
    // Bounded by the platform's 20 seconds of retries (and a last attempt's few seconds).
    expect(Date.parse(delivery!.completedAt!) - Date.parse(delivery!.createdAt)).toBeLessThan(40_000);
  });

  it('announces a run whose close was recorded without an announcement', async () => {
    const database = testDatabase();
    try {
      // Another path closed the row (the announcement of the first run is undone here).
      await database.db.execute(
        sql`update runs set notified_at = null where id = ${first.payload.data.runId as string}`,
      );
    } finally {
      await database.close();
    }
    const announced = await until(
      () => deliveriesOf(endpoint.id),
      (list) =>
        list.some((d) => d.payload.data.runId === first.payload.data.runId && d.eventId !== first.eventId),
      60_000,
    );
    const repeat = announced.find(
      (d) => d.eventId !== first.eventId && d.payload.data.runId === first.payload.data.runId,
    )!;
    expect(repeat).toMatchObject({ event: 'run.completed', redeliveryOf: null });
  });

  it('keeps environments apart, and a retired environment deletes its endpoints and stops their deliveries', async () => {
    // Another environment of the same organization, reached with the organization's admin key,
    // which sees both.
    const otherEnv = `${s.env}-b`;
    await s.admin.createEnvironment(s.org, otherEnv, 'us');
    const away = await newReceiver();
    away.setDown(true);
    const other = await s.admin.createWebhookEndpoint(s.org, otherEnv, {
      url: `${away.url}/other`,
      events: ['run.completed'],
    });
    const mine = await s.client.getWebhookEndpoint(s.org, s.env, endpoint.id);
    // Settled first, so that only what these calls did could change them.
    const myDeliveries = await settled(endpoint.id);
    const expectNotFound = async (call: Promise<unknown>) => {
      const error = await call.catch((e: unknown) => e);
      expect(error).toBeInstanceOf(TavioApiError);
      expect((error as TavioApiError).problem.status).toBe(404);
    };
    // This environment's endpoint and delivery, asked for in the other environment...
    await expectNotFound(s.admin.getWebhookEndpoint(s.org, otherEnv, endpoint.id));
    await expectNotFound(
      s.admin.updateWebhookEndpoint(s.org, otherEnv, endpoint.id, { events: ['run.failed'] }),
    );
    await expectNotFound(s.admin.rotateWebhookSecret(s.org, otherEnv, endpoint.id));
    await expectNotFound(s.admin.listWebhookDeliveries(s.org, otherEnv, endpoint.id));
    await expectNotFound(s.admin.getWebhookDelivery(s.org, otherEnv, first.id));
    await expectNotFound(s.admin.redeliverWebhook(s.org, otherEnv, first.id));
    await expectNotFound(s.admin.deleteWebhookEndpoint(s.org, otherEnv, endpoint.id));
    // ...and the other environment's endpoint, asked for in this one.
    await expectNotFound(s.client.getWebhookEndpoint(s.org, s.env, other.id));
    await expectNotFound(
      s.client.updateWebhookEndpoint(s.org, s.env, other.id, { url: `${receiver.url}/x` }),
    );
    await expectNotFound(s.client.rotateWebhookSecret(s.org, s.env, other.id));
    await expectNotFound(s.client.listWebhookDeliveries(s.org, s.env, other.id));
    await expectNotFound(s.client.deleteWebhookEndpoint(s.org, s.env, other.id));
    // Nothing changed on either side.
    expect(await s.client.getWebhookEndpoint(s.org, s.env, endpoint.id)).toEqual(mine);
    expect(await deliveriesOf(endpoint.id)).toEqual(myDeliveries);
    // The secret is shown once only (toEqual ignores the undefined property).
    const otherView = { ...other, secret: undefined };
    expect(await s.admin.getWebhookEndpoint(s.org, otherEnv, other.id)).toEqual(otherView);
    expect(await s.admin.listWebhookEndpoints(s.org, otherEnv)).toEqual([otherView]);

    // A delivery of the other environment's, not ended when it retires (its receiver is down).
    const stuck = randomUUID();
    const database = testDatabase();
    try {
      await database.db.execute(
        sql`insert into webhook_deliveries (id, endpoint_id, environment_id, event, event_id, payload, workflow_id)
            select ${stuck}, ${other.id}, id, 'run.completed', ${`msg_${stuck}`}, ${JSON.stringify(first.payload)}::jsonb,
                   ${`webhook-delivery-${stuck}`}
            from environments where slug = ${otherEnv}`,
      );
    } finally {
      await database.close();
    }
    const { receipt } = await s.admin.retireEnvironment(s.org, otherEnv);
    expect(receipt).toMatchObject({ webhookEndpointsDeleted: 1, webhookDeliveriesStopped: 1 });
    expect(await s.admin.listWebhookEndpoints(s.org, otherEnv)).toEqual([]);
    await expectNotFound(s.admin.getWebhookEndpoint(s.org, otherEnv, other.id));
    // A retired environment's endpoints change no more.
    const patched = await s.admin
      .updateWebhookEndpoint(s.org, otherEnv, other.id, { events: ['run.failed'] })
      .catch((e: unknown) => e);
    expect((patched as TavioApiError).problem.type).toBe('https://tavio.dev/problems/environment-not-active');
    const after = testDatabase();
    try {
      const rows = await after.db.execute(
        sql`select deleted_at is not null as done from webhook_endpoints where id = ${other.id}
            union all select true from audit_log
            where target = ${other.id} and action = 'webhook_endpoint.deleted'
            union all select status = 'failed' and completed_at is not null from webhook_deliveries
            where id = ${stuck}`,
      );
      expect(rows.map((row) => row.done)).toEqual([true, true, true]);
    } finally {
      await after.close();
    }
    // This environment's endpoint is untouched.
    expect(await s.client.getWebhookEndpoint(s.org, s.env, endpoint.id)).toEqual(mine);
  });

  it.each([
    ['plain http to a host outside the customer networks', 'http://hooks.example.com/tavio', /not https/],
    ['a cloud metadata address', 'https://169.254.169.254/latest', /^url: metadata/],
    ['the platform itself', 'https://127.0.0.1:8080/hooks', /^url: platform/],
    ['a fixture address over another loopback', `http://127.0.0.9:9/hooks`, /not https/],
  ])('refuses %s with 422 naming url, and creates nothing', async (_what, url, detail) => {
    const before = await s.client.listWebhookEndpoints(s.org, s.env);
    const error = await s.client
      .createWebhookEndpoint(s.org, s.env, { url, events: ['run.failed'] })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TavioApiError);
    const problem = (error as TavioApiError).problem;
    expect([problem.status, problem.type]).toEqual([422, 'https://tavio.dev/problems/webhook-url-refused']);
    expect(problem.detail).toMatch(detail);
    expect(await s.client.listWebhookEndpoints(s.org, s.env)).toEqual(before);
  });
});
