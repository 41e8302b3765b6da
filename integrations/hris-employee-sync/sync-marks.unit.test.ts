import { describe, expect, it } from 'vitest';
import { MAX_MARK_LENGTH, createSyncMarkActivities, syncMarkName } from '../../activities/sync-marks.js';
import type { SyncMarkDeps } from '../../activities/sync-marks.js';
import { SealedObjectError, objectKeyOf } from '../../common/sealed-objects.js';

/** An S3 condition that does not hold, as the SDK throws it. */
const preconditionFailed = () =>
  Object.assign(new Error('At least one of the pre-conditions you specified did not hold'), {
    name: 'PreconditionFailed',
    $metadata: { httpStatusCode: 412 },
  });

/**
 * A sealed store in memory: objects by key with an ETag each, conditional writes as S3 makes them
 * (If-Match, If-None-Match: *), and an error named NoSuchKey for a missing one. `beforePut` runs
 * before each write, as a concurrent writer would.
 */
function memoryStore() {
  const objects = new Map<string, Buffer>();
  const etags = new Map<string, string>();
  let version = 0;
  const hooks: { beforePut?: () => void } = {};
  const write = (key: string, plaintext: Uint8Array) => {
    objects.set(key, Buffer.from(plaintext));
    etags.set(key, `"etag-${++version}"`);
  };
  const store: SyncMarkDeps['store'] = {
    async getTagged(purpose, name) {
      const key = objectKeyOf(purpose, name);
      const found = objects.get(key);
      if (found) return { plaintext: found, etag: etags.get(key)! };
      throw Object.assign(new Error('The specified key does not exist.'), { name: 'NoSuchKey' });
    },
    async put(purpose, name, plaintext, options = {}) {
      hooks.beforePut?.();
      const key = objectKeyOf(purpose, name);
      if (options.ifNoneMatch === '*' && objects.has(key)) throw preconditionFailed();
      if (options.ifMatch !== undefined && etags.get(key) !== options.ifMatch) throw preconditionFailed();
      write(key, plaintext);
      return key;
    },
  };
  return { objects, store, hooks, write };
}

const pair = {
  source: { id: 'c0ffee00-0000-4000-8000-000000000001', baseUrl: 'http://hris.test' },
  destination: { id: 'c0ffee00-0000-4000-8000-000000000002', baseUrl: 'http://directory.test' },
};

describe('high-water marks', () => {
  it('has none until a run saves one, under state/, for the connection pair alone', async () => {
    const { objects, store } = memoryStore();
    const marks = createSyncMarkActivities({ store, gateway: 'us1' });
    expect(await marks.readSyncMark(pair)).toEqual({ mark: null, mappingVersion: null });
    const saved = await marks.saveSyncMark({
      ...pair,
      mark: '2026-11-30T05:00:00.000Z',
      runStartedAt: '2026-11-30T04:59:00.000Z',
    });
    expect(saved).toEqual({ saved: true });
    expect([...objects.keys()]).toEqual([`state/sync-marks/${pair.source.id}.${pair.destination.id}`]);
    expect(JSON.parse(objects.values().next().value!.toString())).toEqual({
      mark: '2026-11-30T05:00:00.000Z',
      mappingVersion: null,
      runStartedAt: '2026-11-30T04:59:00.000Z',
      savedAt: expect.any(String),
    });
    expect(await marks.readSyncMark(pair)).toEqual({
      mark: '2026-11-30T05:00:00.000Z',
      mappingVersion: null,
    });
    const reversed = { source: pair.destination, destination: pair.source };
    expect(await marks.readSyncMark(reversed)).toEqual({ mark: null, mappingVersion: null });
    expect(syncMarkName(reversed)).not.toBe(syncMarkName(pair));
  });

  it('never moves the mark back: a run that started before the one that saved it saves nothing', async () => {
    const { store } = memoryStore();
    const marks = createSyncMarkActivities({ store, gateway: 'us1' });
    await marks.saveSyncMark({ ...pair, mark: 'later', runStartedAt: '2026-11-30T05:00:00.000Z' });
    expect(
      await marks.saveSyncMark({ ...pair, mark: 'earlier', runStartedAt: '2026-11-30T04:00:00.000Z' }),
    ).toEqual({ saved: false });
    expect(await marks.readSyncMark(pair)).toEqual({ mark: 'later', mappingVersion: null });
    expect(
      await marks.saveSyncMark({ ...pair, mark: 'next', runStartedAt: '2026-11-30T06:00:00.000Z' }),
    ).toEqual({ saved: true });
    expect(await marks.readSyncMark(pair)).toEqual({ mark: 'next', mappingVersion: null });
  });

  it('saves the mapping version with the mark, and reads a mark saved without one as of no declared mapping', async () => {
    const { objects, store } = memoryStore();
    const marks = createSyncMarkActivities({ store, gateway: 'us1' });
    await marks.saveSyncMark({
      ...pair,
      mark: 'm1',
      mappingVersion: 3,
      runStartedAt: '2026-11-30T05:00:00.000Z',
    });
    expect(await marks.readSyncMark(pair)).toEqual({ mark: 'm1', mappingVersion: 3 });
    // As saved before mapping versions were kept (the recorded histories' marks).
    objects.set(
      objectKeyOf('state', syncMarkName(pair)),
      Buffer.from(
        JSON.stringify({
          mark: 'm0',
          runStartedAt: '2026-11-30T05:00:00.000Z',
          savedAt: '2026-11-30T05:01:00.000Z',
        }),
      ),
    );
    expect(await marks.readSyncMark(pair)).toEqual({ mark: 'm0', mappingVersion: null });
  });

  it('writes only over the mark it read: a save that lands in between makes it read and decide again', async () => {
    const { store, hooks, write } = memoryStore();
    const marks = createSyncMarkActivities({ store, gateway: 'us1' });
    const key = objectKeyOf('state', syncMarkName(pair));
    const later = JSON.stringify({
      mark: 'later',
      mappingVersion: null,
      runStartedAt: '2026-11-30T06:00:00.000Z',
      savedAt: '2026-11-30T06:05:00.000Z',
    });
    // A run that started later saves between this save's read and its write: the older one loses.
    let raced = false;
    hooks.beforePut = () => {
      if (raced) return;
      raced = true;
      write(key, Buffer.from(later));
    };
    expect(
      await marks.saveSyncMark({ ...pair, mark: 'earlier', runStartedAt: '2026-11-30T05:00:00.000Z' }),
    ).toEqual({ saved: false });
    expect(await marks.readSyncMark(pair)).toEqual({ mark: 'later', mappingVersion: null });
    // A run that started earlier saves in between: read again, the newer one still wins.
    raced = false;
    hooks.beforePut = () => {
      if (raced) return;
      raced = true;
      write(key, Buffer.from(later.replace('"later"', '"older"').replace('06:00:00', '04:00:00')));
    };
    expect(
      await marks.saveSyncMark({ ...pair, mark: 'newest', runStartedAt: '2026-11-30T07:00:00.000Z' }),
    ).toEqual({ saved: true });
    expect(await marks.readSyncMark(pair)).toEqual({ mark: 'newest', mappingVersion: null });
  });

  it('gives up after a few lost races, leaving the retry to the activity policy', async () => {
    const { store, hooks, write } = memoryStore();
    const marks = createSyncMarkActivities({ store, gateway: 'us1' });
    const key = objectKeyOf('state', syncMarkName(pair));
    let writes = 0;
    hooks.beforePut = () => {
      writes += 1;
      write(key, Buffer.from('not a mark'));
    };
    const error = await marks
      .saveSyncMark({ ...pair, mark: 'm', runStartedAt: '2026-11-30T05:00:00.000Z' })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect((error as { nonRetryable?: boolean }).nonRetryable).not.toBe(true);
    expect(writes).toBe(5);
  });

  it('refuses to save a mark that is too long or not printable ASCII, without quoting it', async () => {
    const { objects, store } = memoryStore();
    const marks = createSyncMarkActivities({ store, gateway: 'us1' });
    for (const mark of ['m'.repeat(MAX_MARK_LENGTH + 1), 'Jane\nDoe', '']) {
      const error = await marks
        .saveSyncMark({ ...pair, mark, runStartedAt: '2026-11-30T05:00:00.000Z' })
        .catch((e: unknown) => e);
      expect(error).toMatchObject({ type: 'UpstreamValueRefused', nonRetryable: true });
      expect((error as Error).message).not.toContain('Jane');
    }
    expect(objects.size).toBe(0);
  });

  it('reads an object that is not a mark as no mark (the run lists everything), and fails on a sealed-context mismatch', async () => {
    const { objects, store } = memoryStore();
    const marks = createSyncMarkActivities({ store, gateway: 'us1' });
    objects.set(objectKeyOf('state', syncMarkName(pair)), Buffer.from('{"mark": 42}'));
    expect(await marks.readSyncMark(pair)).toEqual({ mark: null, mappingVersion: null });
    const refusing = createSyncMarkActivities({
      store: {
        ...store,
        getTagged: async () => {
          throw new SealedObjectError(
            'SealedContextMismatch',
            'sealed object state/x was sealed for another place',
          );
        },
      },
      gateway: 'us1',
    });
    await expect(refusing.readSyncMark(pair)).rejects.toMatchObject({
      type: 'SealedContextMismatch',
      nonRetryable: true,
    });
  });
});
