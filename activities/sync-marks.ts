import { ApplicationFailure } from '@temporalio/common';
import { z } from 'zod';
import type { ConnectionRef } from '../common/connections.js';
import { FailureType } from '../common/failures.js';
import { SealedObjectError } from '../common/sealed-objects.js';
import type { SealedStore } from '../common/sealed-objects.js';
import { gatewayFailure } from './egress.js';

/**
 * High-water marks of incremental syncs, one per connection pair, kept in the environment's own
 * bucket under `state/`, sealed under its key: a timestamp or an opaque token the source gave, and
 * when the run that saved it started. Never a record. The data plane keeps them because scheduled
 * runs start without the control plane, which never reads the bucket.
 */

/** A mark is a token like a cursor: printable ASCII, bounded, so that it may enter a history and a URL. */
export const MAX_MARK_LENGTH = 512;
const PRINTABLE_ASCII = /^[\x20-\x7e]+$/;

export const syncMarkSchema = z.string().max(MAX_MARK_LENGTH).regex(PRINTABLE_ASCII);

const savedMarkSchema = z.object({
  mark: syncMarkSchema,
  runStartedAt: z.iso.datetime(),
  savedAt: z.iso.datetime(),
});
type SavedMark = z.infer<typeof savedMarkSchema>;

export interface SyncMarkRef {
  source: ConnectionRef;
  destination: ConnectionRef;
}

export interface SaveSyncMarkInput extends SyncMarkRef {
  mark: string;
  /** When the saving run started (ISO timestamp): a run never replaces the mark of one that started later. */
  runStartedAt: string;
}

export interface SaveSyncMarkResult {
  /** False when the mark in place was saved by a run that started later. */
  saved: boolean;
}

/** The mark's object name under `state/`: one per connection pair. */
export const syncMarkName = (ref: SyncMarkRef) => `sync-marks/${ref.source.id}.${ref.destination.id}`;

export interface SyncMarkDeps {
  store: Pick<SealedStore, 'get' | 'put'>;
  /** The gateway the storage clients go through, named in failures. */
  gateway: string;
}

/** Activities that read and save an environment's high-water marks. */
export function createSyncMarkActivities(deps: SyncMarkDeps) {
  function failureOf(error: unknown): unknown {
    if (error instanceof SealedObjectError) return ApplicationFailure.nonRetryable(error.message, error.type);
    return gatewayFailure(deps.gateway, error);
  }

  /** The saved mark; undefined when there is none, or what is there is not a mark (then it is replaced). */
  async function read(ref: SyncMarkRef): Promise<SavedMark | undefined> {
    let text: string;
    try {
      text = (await deps.store.get('state', syncMarkName(ref))).toString('utf8');
    } catch (error) {
      if (error instanceof Error && error.name === 'NoSuchKey') return undefined;
      throw failureOf(error);
    }
    try {
      const parsed = savedMarkSchema.safeParse(JSON.parse(text));
      return parsed.success ? parsed.data : undefined;
    } catch {
      return undefined;
    }
  }

  return {
    /** The connection pair's mark, or null: an incremental run without one lists everything. */
    async readSyncMark(ref: SyncMarkRef): Promise<{ mark: string | null }> {
      return { mark: (await read(ref))?.mark ?? null };
    },

    /**
     * Saves a completed run's mark, unless the mark in place was saved by a run that started later:
     * two overlapping runs never move the mark back.
     */
    async saveSyncMark(input: SaveSyncMarkInput): Promise<SaveSyncMarkResult> {
      const mark = syncMarkSchema.safeParse(input.mark);
      const runStartedAt = z.iso.datetime().safeParse(input.runStartedAt);
      if (!mark.success || !runStartedAt.success) {
        throw ApplicationFailure.nonRetryable(
          `a high-water mark must be printable ASCII of at most ${MAX_MARK_LENGTH} characters, saved with the run's start time`,
          FailureType.UpstreamValueRefused,
        );
      }
      const current = await read(input);
      if (current && Date.parse(current.runStartedAt) > Date.parse(runStartedAt.data))
        return { saved: false };
      const saved: SavedMark = {
        mark: mark.data,
        runStartedAt: runStartedAt.data,
        savedAt: new Date().toISOString(),
      };
      try {
        await deps.store.put('state', syncMarkName(input), Buffer.from(JSON.stringify(saved)));
      } catch (error) {
        throw failureOf(error);
      }
      return { saved: true };
    },
  };
}
export type SyncMarkActivities = ReturnType<typeof createSyncMarkActivities>;
