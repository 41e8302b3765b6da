import { describe, expect, it } from 'vitest';
import { MAX_MARK_LENGTH, createSyncMarkActivities, syncMarkName } from '../../activities/sync-marks.js';
import type { SyncMarkDeps } from '../../activities/sync-marks.js';
import { SealedObjectError, objectKeyOf } from '../../common/sealed-objects.js';

/** A sealed store in memory: objects by key, and an error named NoSuchKey for a missing one, as S3 throws. */
function memoryStore() {
  const objects = new Map<string, Buffer>();
  const store: SyncMarkDeps['store'] = {
    async get(purpose, name) {
      const found = objects.get(objectKeyOf(purpose, name));
      if (found) return found;
      throw Object.assign(new Error('The specified key does not exist.'), { name: 'NoSuchKey' });
    },
    async put(purpose, name, plaintext) {
      const key = objectKeyOf(purpose, name);
      objects.set(key, Buffer.from(plaintext));
      return key;
    },
  };
  return { objects, store };
}

const pair = {
  source: { id: 'c0ffee00-0000-4000-8000-000000000001', baseUrl: 'http://hris.test' },
  destination: { id: 'c0ffee00-0000-4000-8000-000000000002', baseUrl: 'http://directory.test' },
};

describe('high-water marks', () => {
  it('has none until a run saves one, under state/, for the connection pair alone', async () => {
    const { objects, store } = memoryStore();
    const marks = createSyncMarkActivities({ store, gateway: 'us1' });
    expect(await marks.readSyncMark(pair)).toEqual({ mark: null });
    const saved = await marks.saveSyncMark({
      ...pair,
      mark: '2026-11-30T05:00:00.000Z',
      runStartedAt: '2026-11-30T04:59:00.000Z',
    });
    expect(saved).toEqual({ saved: true });
    expect([...objects.keys()]).toEqual([`state/sync-marks/${pair.source.id}.${pair.destination.id}`]);
    expect(JSON.parse(objects.values().next().value!.toString())).toEqual({
      mark: '2026-11-30T05:00:00.000Z',
      runStartedAt: '2026-11-30T04:59:00.000Z',
      savedAt: expect.any(String),
    });
    expect(await marks.readSyncMark(pair)).toEqual({ mark: '2026-11-30T05:00:00.000Z' });
    const reversed = { source: pair.destination, destination: pair.source };
    expect(await marks.readSyncMark(reversed)).toEqual({ mark: null });
    expect(syncMarkName(reversed)).not.toBe(syncMarkName(pair));
  });

  it('never moves the mark back: a run that started before the one that saved it saves nothing', async () => {
    const { store } = memoryStore();
    const marks = createSyncMarkActivities({ store, gateway: 'us1' });
    await marks.saveSyncMark({ ...pair, mark: 'later', runStartedAt: '2026-11-30T05:00:00.000Z' });
    expect(
      await marks.saveSyncMark({ ...pair, mark: 'earlier', runStartedAt: '2026-11-30T04:00:00.000Z' }),
    ).toEqual({ saved: false });
    expect(await marks.readSyncMark(pair)).toEqual({ mark: 'later' });
    expect(
      await marks.saveSyncMark({ ...pair, mark: 'next', runStartedAt: '2026-11-30T06:00:00.000Z' }),
    ).toEqual({ saved: true });
    expect(await marks.readSyncMark(pair)).toEqual({ mark: 'next' });
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
    expect(await marks.readSyncMark(pair)).toEqual({ mark: null });
    const refusing = createSyncMarkActivities({
      store: {
        ...store,
        get: async () => {
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
