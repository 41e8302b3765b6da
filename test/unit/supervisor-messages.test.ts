import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import type { Logger } from 'pino';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { DroppedMessageReason } from '../../common/telemetry/host-metrics.js';
import { createSupervisor, createWorkerInbox } from '../../workers/supervisor.js';
import type { WorkerSecrets } from '../../common/worker-secrets.js';

/** A logger that keeps what it was asked to warn about. */
function capturingLog() {
  const warnings: unknown[] = [];
  const log = pino({ level: 'silent' });
  log.warn = ((entry: unknown) => void warnings.push(entry)) as Logger['warn'];
  return { log, warnings };
}

describe("the host's end of a worker's channel", () => {
  it('ignores what is not an object, counting it, and hands objects on', () => {
    const { log, warnings } = capturingLog();
    const handled: object[] = [];
    const dropped: DroppedMessageReason[] = [];
    const inbox = createWorkerInbox({
      key: 'env-1',
      log,
      handle: (message) => void handled.push(message),
      dropped: (reason) => void dropped.push(reason),
    });
    for (const message of [null, undefined, 42, 'spans', true, ['spans']])
      expect(() => inbox(message)).not.toThrow();
    inbox({ busy: true });
    expect(handled).toEqual([{ busy: true }]);
    expect(dropped).toEqual(Array.from({ length: 6 }, () => 'not-an-object'));
    // Logged once for the minute, by count, with nothing of what the worker sent.
    expect(warnings).toEqual([{ worker: 'env-1', droppedMessages: { 'not-an-object': 1 } }]);
  });

  it('survives a handler that throws, and counts it', () => {
    const { log } = capturingLog();
    const dropped: DroppedMessageReason[] = [];
    const inbox = createWorkerInbox({
      key: 'env-1',
      log,
      handle: () => {
        throw new TypeError('boom');
      },
      dropped: (reason) => void dropped.push(reason),
    });
    expect(() => inbox({ spans: [] })).not.toThrow();
    expect(dropped).toEqual(['failed']);
  });

  it('drops messages beyond a burst and a rate per worker, before handling them, and logs once a minute', () => {
    const { log, warnings } = capturingLog();
    let time = 0;
    const handled: object[] = [];
    const dropped: DroppedMessageReason[] = [];
    const inbox = createWorkerInbox({
      key: 'env-1',
      log,
      handle: (message) => void handled.push(message),
      dropped: (reason) => void dropped.push(reason),
      limits: { burst: 5, perSecond: 2 },
      now: () => time,
    });
    for (let i = 0; i < 8; i++) inbox({ runtimeMetrics: [] });
    expect(handled).toHaveLength(5);
    expect(dropped).toEqual(['rate', 'rate', 'rate']);
    time = 1_000;
    for (let i = 0; i < 8; i++) inbox({ runtimeMetrics: [] });
    expect(handled).toHaveLength(7);
    expect(warnings).toHaveLength(1);
    time = 61_000;
    inbox(null);
    expect(warnings).toEqual([
      { worker: 'env-1', droppedMessages: { rate: 1 } },
      { worker: 'env-1', droppedMessages: { rate: 8, 'not-an-object': 1 } },
    ]);
  });
});

describe('a supervised worker sending malformed messages', () => {
  let folder: string;
  beforeAll(async () => {
    folder = await mkdtemp(join(tmpdir(), 'tavio-supervisor-test-'));
  });
  afterAll(async () => {
    await rm(folder, { recursive: true, force: true });
  });

  it('neither crashes nor misleads its host', async () => {
    const entry = join(folder, 'worker.mjs');
    await writeFile(
      entry,
      `process.once('message', () => {
        for (const message of [null, 'spans', 42, []]) process.send(message);
        process.send({ stopping: 'token refused ' + 'x'.repeat(5000) });
        process.send({ stopping: 'again' });
        process.send({ busy: true });
      });
      process.on('disconnect', () => process.exit(0));
      setInterval(() => undefined, 1000);
      `,
    );
    const { log } = capturingLog();
    const errors: unknown[] = [];
    log.error = ((entry: unknown) => void errors.push(entry)) as Logger['error'];
    const messages: object[] = [];
    const dropped: DroppedMessageReason[] = [];
    const supervisor = createSupervisor(log, entry, undefined, {
      started: () => undefined,
      restarting: () => undefined,
      exited: () => undefined,
      message: (_key, message) => {
        messages.push(message);
        return false;
      },
      messageDropped: (reason) => void dropped.push(reason),
    });
    try {
      supervisor.ensure({ key: 'env-1', env: () => ({}), secrets: async () => ({}) as WorkerSecrets });
      await vi.waitFor(() => expect(supervisor.busy('env-1')).toBe(true), { timeout: 10_000 });
      expect(dropped).toEqual(['not-an-object', 'not-an-object', 'not-an-object', 'not-an-object']);
      expect(messages.every((message) => typeof message === 'object' && message !== null)).toBe(true);
      // The stopping reason is logged once a life, and cut short.
      const stopping = errors.filter(
        (entry) => (entry as { reason?: string }).reason?.startsWith('token refused') ?? false,
      ) as { reason: string }[];
      expect(stopping).toHaveLength(1);
      expect(stopping[0]!.reason.length).toBeLessThanOrEqual(200);
      expect(errors.some((entry) => (entry as { reason?: string }).reason === 'again')).toBe(false);
    } finally {
      await supervisor.stopAll();
    }
  });
});
