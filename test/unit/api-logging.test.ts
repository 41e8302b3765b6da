import { Writable } from 'node:stream';
import Fastify from 'fastify';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { installProblemHandlers } from '../../control-api/problems.js';
import { loggerOptions } from '../../common/telemetry/logging.js';
import { installRequestIdHeader, requestIdOptions } from '../../common/telemetry/request-ids.js';

/** Log lines written to memory, parsed. */
function memoryLog() {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  return { lines, stream };
}

/** The API's logging as the control API sets it up (level warn, as `npm start` runs it), with a failing route. */
async function appWithFailingRoute() {
  const log = memoryLog();
  const app = Fastify({ logger: { ...loggerOptions('warn'), stream: log.stream }, ...requestIdOptions });
  installProblemHandlers(app);
  installRequestIdHeader(app);
  app.post('/v1/things/:id', async () => {
    throw new TypeError('cannot read properties of undefined');
  });
  await app.ready();
  return { app, log };
}

describe('API logs', () => {
  it('logs an unexpected 500 with its request id and the error, never the body or the credentials', async () => {
    const { app, log } = await appWithFailingRoute();
    const response = await app.inject({
      method: 'POST',
      url: '/v1/things/42',
      headers: { authorization: 'Bearer tav_env_secretsecret', 'x-request-id': 'req-0001.a' },
      payload: { email: 'jane.doe@example.com', salary: 123456 },
    });
    expect(response.statusCode).toBe(500);
    expect(response.headers['x-request-id']).toBe('req-0001.a');
    expect(response.json()).toMatchObject({ type: 'https://tavio.dev/problems/internal', status: 500 });
    const errors = log.lines.filter((line) => line.level === 50);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({
      reqId: 'req-0001.a',
      msg: 'unexpected error',
      err: { name: 'TypeError', message: 'cannot read properties of undefined' },
    });
    expect(String((errors[0]!.err as { stack?: string }).stack)).toContain('TypeError');
    const text = JSON.stringify(log.lines);
    for (const secret of ['jane.doe@example.com', '123456', 'tav_env_secretsecret'])
      expect(text).not.toContain(secret);
    await app.close();
  });

  it('gives a request whose X-Request-Id is not a plain id a fresh one', async () => {
    const { app } = await appWithFailingRoute();
    const given = await app.inject({
      method: 'GET',
      url: '/nowhere',
      headers: { 'x-request-id': 'a b"<c>' },
    });
    expect(given.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    const none = await app.inject({ method: 'GET', url: '/nowhere' });
    expect(none.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(none.headers['x-request-id']).not.toBe(given.headers['x-request-id']);
    await app.close();
  });

  it('redacts credentials at the top of a record or one level down', () => {
    const log = memoryLog();
    const logger = pino(loggerOptions('info', { worker: 'w' }), log.stream);
    logger.info(
      {
        req: { headers: { authorization: 'Bearer abc', cookie: 'session=def' } },
        credentials: { secretAccessKey: 'ghi', sessionToken: 'jkl' },
        taskToken: 'mno',
        password: 'pqr',
        temporal: { clientKeyPem: 'stu', passphrase: 'vwx' },
        connection: { credentials: { apiKey: 'yza' } },
      },
      'line',
    );
    const text = JSON.stringify(log.lines);
    for (const secret of ['abc', 'def', 'ghi', 'jkl', 'mno', 'pqr', 'stu', 'vwx', 'yza'])
      expect(text).not.toContain(secret);
    expect(log.lines[0]).toMatchObject({ worker: 'w', taskToken: '[redacted]' });
  });
});
