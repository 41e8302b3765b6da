import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { stackEnv } from '../../scripts/platform.js';
import { waitFor } from '../../scripts/processes.js';
import { createTavioClient } from '../../control-api/client.js';
import { onDatabase } from '../support/database.js';
import { freePort } from '../../scripts/stack/health.js';

const SERVER = fileURLToPath(new URL('../../control-api/server.ts', import.meta.url));

/** Starts the control API process on a database of its own and collects what it prints. */
async function startServer(database: string, port: number) {
  const stack = inject('stack');
  const child = spawn(process.execPath, ['--import', 'tsx', SERVER], {
    env: {
      PATH: process.env.PATH ?? '',
      ...stackEnv(stack),
      TAVIO_DATABASE_URL: onDatabase(stack.databaseUrl, database),
      TAVIO_DATABASE_MIGRATION_URL: onDatabase(stack.databaseMigrationUrl, database),
      TAVIO_API_PORT: String(port),
      TAVIO_LOG_LEVEL: 'error',
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // Standard output is the JSON log; the generated operator key is shown on standard error.
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  await waitFor(
    'the control API to answer',
    () =>
      fetch(`http://127.0.0.1:${port}/healthz`).then(
        (r) => r.ok || undefined,
        () => undefined,
      ),
    60_000,
  );
  return {
    output: () => output,
    stop: () =>
      new Promise<void>((resolve) =>
        child.exitCode !== null ? resolve() : (child.once('exit', () => resolve()), child.kill('SIGTERM')),
      ),
  };
}

describe('the control API process', () => {
  const name = `tavio_server_${randomBytes(4).toString('hex')}`;
  // Only the cluster's superuser creates databases; the new one belongs to the owner role, as the stack's does.
  const admin = postgres(inject('stack').databaseAdminUrl, { max: 1, onnotice: () => undefined });
  const owner = decodeURIComponent(new URL(inject('stack').databaseMigrationUrl).username);

  beforeAll(async () => {
    await admin.unsafe(`create database ${name} owner "${owner}"`);
  });
  afterAll(async () => {
    await admin.unsafe(`drop database if exists ${name} with (force)`);
    await admin.end();
  });

  it('migrates a new database, prints a generated operator key once, and that key works', async () => {
    const port = await freePort();
    const first = await startServer(name, port);
    const key = await waitFor(
      'the printed operator key',
      () => /operator key \(shown once, store it now\): (tav_op_\S+)/.exec(first.output())?.[1],
      10_000,
    );
    expect(key).toMatch(/^tav_op_/);
    const created = await fetch(`http://127.0.0.1:${port}/v1/organizations`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ slug: 'first-partner' }),
    });
    expect(created.status).toBe(201);

    // The last operator key that works cannot be revoked, not even by two revocations at once.
    const operator = (apiKey: string) => createTavioClient({ baseUrl: `http://127.0.0.1:${port}`, apiKey });
    const [generated] = await operator(key).listPlatformKeys('operator');
    const lastKeyRefusal = { problem: { status: 409, type: 'https://tavio.dev/problems/last-operator-key' } };
    await expect(operator(key).revokePlatformKey(generated!.id)).rejects.toMatchObject(lastKeyRefusal);
    const [b, c] = await Promise.all([operator(key).createOperatorKey(), operator(key).createOperatorKey()]);
    expect((await operator(b!.key).revokePlatformKey(generated!.id)).status).toBe('revoked');
    expect(
      (await fetch(`http://127.0.0.1:${port}/v1/api-keys`, { headers: { authorization: `Bearer ${key}` } }))
        .status,
    ).toBe(401);
    const both = await Promise.allSettled([
      operator(b!.key).revokePlatformKey(c!.id),
      operator(c!.key).revokePlatformKey(b!.id),
    ]);
    // One wins; the other is refused as the last key's revocation, or as a revoked key's request.
    expect(both.filter((result) => result.status === 'fulfilled')).toHaveLength(1);
    const survivor = both[0]!.status === 'fulfilled' ? b! : c!;
    const live = (await operator(survivor.key).listPlatformKeys('operator')).filter(
      (k) => k.status === 'active',
    );
    expect(live.map((k) => k.id)).toEqual([survivor.id]);
    await first.stop();

    const restarted = await startServer(name, port);
    expect(restarted.output()).not.toContain('operator key');
    await restarted.stop();

    // With every operator key revoked, the next start issues a new one rather than locking everyone out.
    const own = postgres(onDatabase(inject('stack').databaseUrl, name), {
      max: 1,
      onnotice: () => undefined,
    });
    await own.unsafe(`update api_keys set revoked_at = now() where kind = 'operator'`);
    await own.end();
    const third = await startServer(name, port);
    const replacement = await waitFor(
      'a new operator key',
      () => /operator key \(shown once, store it now\): (tav_op_\S+)/.exec(third.output())?.[1],
      10_000,
    );
    expect(replacement).not.toBe(key);
    await third.stop();
  });
});
