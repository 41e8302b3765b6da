import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import type { ApiDeps } from '../../control-api/deps.js';
import { registerHealthRoutes } from '../../control-api/readiness.js';

/** The API's health routes over dependencies that count their checks and fail on demand. */
function appWith(probes: { database: () => Promise<unknown>; temporal: () => Promise<void> }) {
  const calls = { database: 0, temporal: 0 };
  const deps = {
    db: { execute: () => (calls.database++, probes.database()) },
    temporal: { waitUntilTrusted: () => (calls.temporal++, probes.temporal()) },
  } as unknown as Pick<ApiDeps, 'db' | 'temporal'>;
  const app = Fastify();
  registerHealthRoutes(app, deps);
  return { app, calls };
}

describe('health and readiness', () => {
  it('answers ready while both dependencies answer, asking them once for many callers at once', async () => {
    const { app, calls } = appWith({ database: async () => [], temporal: async () => undefined });
    const answers = await Promise.all(Array.from({ length: 20 }, () => app.inject('/readyz')));
    expect(answers.map((answer) => answer.statusCode)).toEqual(Array(20).fill(200));
    expect(answers[0]!.json()).toEqual({ status: 'ready', checks: { database: 'ok', temporal: 'ok' } });
    expect(calls).toEqual({ database: 1, temporal: 1 });
    // The answer serves for a second, then the dependencies are asked again.
    await app.inject('/readyz');
    expect(calls.database).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    await app.inject('/readyz');
    expect(calls).toEqual({ database: 2, temporal: 2 });
  });

  it('answers 503 naming the dependency that fails, and nothing of its error', async () => {
    const { app } = appWith({
      database: async () => {
        throw new Error('password authentication failed for user "tavio_app"');
      },
      temporal: async () => undefined,
    });
    const answer = await app.inject('/readyz');
    expect(answer.statusCode).toBe(503);
    expect(answer.json()).toEqual({
      status: 'not-ready',
      checks: { database: 'unavailable', temporal: 'ok' },
    });
    expect(answer.body).not.toContain('tavio_app');
  });

  it('counts a dependency that does not answer within 2 s as unavailable; liveness does not wait for it', async () => {
    const { app } = appWith({ database: async () => [], temporal: () => new Promise<void>(() => undefined) });
    expect((await app.inject('/healthz')).json()).toEqual({ status: 'ok' });
    const started = Date.now();
    const answer = await app.inject('/readyz');
    expect(answer.json()).toMatchObject({ checks: { temporal: 'unavailable' } });
    expect(Date.now() - started).toBeLessThan(3_000);
  });
});
