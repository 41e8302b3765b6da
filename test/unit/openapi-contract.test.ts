import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTavioClient, TavioApiError } from '../../control-api/client.js';
import { buildServicelessApp } from '../../control-api/openapi-app.js';
import { problemType } from '../../control-api/problems.js';
import { CONTRACT_FILES, renderContract } from '../../scripts/openapi.js';

const root = join(import.meta.dirname, '../..');

describe('the committed contract', () => {
  let rendered: Awaited<ReturnType<typeof renderContract>>;

  beforeAll(async () => {
    rendered = await renderContract();
  }, 60_000);

  for (const part of Object.keys(CONTRACT_FILES) as (keyof typeof CONTRACT_FILES)[]) {
    it(`${CONTRACT_FILES[part]} is what the routes generate`, () => {
      const committed = readFileSync(join(root, CONTRACT_FILES[part]), 'utf8');
      if (committed !== rendered[part])
        expect.fail(
          `${CONTRACT_FILES[part]} differs from what the routes generate: run \`npm run openapi\` and commit the result`,
        );
    });
  }

  it('is the document the API serves, with a schema behind every operation the client calls', async () => {
    const { app } = await buildServicelessApp();
    const served = (await app.inject({ method: 'GET', url: '/openapi.json' })).json<object>();
    await app.close();
    const committed = JSON.parse(readFileSync(join(root, CONTRACT_FILES.document), 'utf8')) as {
      paths: Record<string, unknown>;
    };
    expect(committed).toEqual(served);
    const types = readFileSync(join(root, CONTRACT_FILES.types), 'utf8');
    for (const path of Object.keys(committed.paths)) expect(types).toContain(`'${path}': {`);
  });
});

describe('the generated client', () => {
  let baseUrl: string;
  let close: () => Promise<void>;

  beforeAll(async () => {
    const { app } = await buildServicelessApp();
    baseUrl = await app.listen({ host: '127.0.0.1', port: 0 });
    close = () => app.close();
  });

  afterAll(async () => {
    await close();
  });

  it('throws the problem the API answers, with its status', async () => {
    const client = createTavioClient({ baseUrl, apiKey: 'not-a-key' });
    const refused = await client.getRun('acme', 'production', '22222222-3333-4444-8555-666666666666').then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(refused).toBeInstanceOf(TavioApiError);
    const error = refused as TavioApiError;
    expect(error.status).toBe(401);
    expect(error.problem).toMatchObject({ type: problemType('unauthorized'), status: 401 });
    expect(error.message).toMatch(/^401 Unauthorized: /);
  });

  it('sends path parameters encoded, so a value cannot reach another route', async () => {
    const seen: string[] = [];
    const original = globalThis.fetch;
    globalThis.fetch = (input, init) => {
      seen.push(input instanceof Request ? input.url : String(input));
      return original(input, init);
    };
    try {
      const client = createTavioClient({ baseUrl, apiKey: 'not-a-key' });
      await client.getEnvironment('acme/environments/other', 'prod').catch(() => undefined);
    } finally {
      globalThis.fetch = original;
    }
    expect(seen).toEqual([`${baseUrl}/v1/organizations/acme%2Fenvironments%2Fother/environments/prod`]);
  });
});
