import { ApplicationFailure } from '@temporalio/common';
import { z } from 'zod';
import type { ConnectionRef } from '../common/connections.js';
import { FailureType } from '../common/failures.js';
import { SealedObjectError } from '../common/sealed-objects.js';
import type { SealedStore } from '../common/sealed-objects.js';
import { MAX_TOKEN_LENGTH, PRINTABLE_ASCII } from '../common/upstream-tokens.js';
import { gatewayFailure } from './egress.js';

/**
 * High-water marks of incremental syncs, one per connection pair, kept in the environment's own
 * bucket under `state/`, sealed under its key: a timestamp or an opaque token the source gave, and
 * when the run that saved it started. Never a record. The data plane keeps them because scheduled
 * runs start without the control plane, which never reads the bucket.
 */

/** A mark is a token like a cursor: printable ASCII, bounded, so that it may enter a history and a URL. */
export const MAX_MARK_LENGTH = MAX_TOKEN_LENGTH;

export const syncMarkSchema = z.string().max(MAX_MARK_LENGTH).regex(PRINTABLE_ASCII);

/** A declared mapping's version, or null for the fixed mapping. */
const mappingVersionSchema = z.number().int().nonnegative().nullable();

const savedMarkSchema = z.object({
  mark: syncMarkSchema,
  /** The mapping version of the run that saved it; marks saved before versions were kept have none (null). */
  mappingVersion: mappingVersionSchema.optional(),
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
  /**
   * The declared mapping version the run mapped its records with (null: the fixed mapping). An
   * incremental run under another version lists everything. Absent from inputs of older workflows.
   */
  mappingVersion?: number | null;
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
  store: Pick<SealedStore, 'getTagged' | 'put'>;
  /** The gateway the storage clients go through, named in failures. */
  gateway: string;
}

/** Conditional writes that lose to a concurrent save are tried again this many times, each after reading anew. */
const SAVE_ATTEMPTS = 5;

/** A conditional write refused because the object changed (or appeared, or went away) since it was read. */
function lostRace(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  return (
    error.name === 'PreconditionFailed' ||
    error.name === 'ConditionalRequestConflict' ||
    error.name === 'NoSuchKey' ||
    status === 412 ||
    status === 409
  );
}

interface Current {
  /** The saved mark; undefined when what is there is not a mark (then it is replaced). */
  saved: SavedMark | undefined;
  /** The object's ETag; undefined when there is no object. */
  etag: string | undefined;
}

/** Activities that read and save an environment's high-water marks. */
export function createSyncMarkActivities(deps: SyncMarkDeps) {
  function failureOf(error: unknown): unknown {
    if (error instanceof SealedObjectError) return ApplicationFailure.nonRetryable(error.message, error.type);
    return gatewayFailure(deps.gateway, error);
  }

  async function read(ref: SyncMarkRef): Promise<Current> {
    let text: string;
    let etag: string;
    try {
      const object = await deps.store.getTagged('state', syncMarkName(ref));
      text = object.plaintext.toString('utf8');
      etag = object.etag;
    } catch (error) {
      if (error instanceof Error && error.name === 'NoSuchKey') return { saved: undefined, etag: undefined };
      throw failureOf(error);
    }
    try {
      const parsed = savedMarkSchema.safeParse(JSON.parse(text));
      return { saved: parsed.success ? parsed.data : undefined, etag };
    } catch {
      return { saved: undefined, etag };
    }
  }

  return {
    /**
     * The connection pair's mark, or null: an incremental run without one lists everything; and
     * the mapping version it was saved under (null for marks saved before versions were kept).
     */
    async readSyncMark(ref: SyncMarkRef): Promise<{ mark: string | null; mappingVersion: number | null }> {
      const { saved } = await read(ref);
      return { mark: saved?.mark ?? null, mappingVersion: saved?.mappingVersion ?? null };
    },

    /**
     * Saves a completed run's mark, unless the mark in place was saved by a run that started later:
     * two overlapping runs never move the mark back. The write is conditional on the object read
     * (its ETag, or its absence): a save that lands in between makes it read and decide again.
     */
    async saveSyncMark(input: SaveSyncMarkInput): Promise<SaveSyncMarkResult> {
      const mark = syncMarkSchema.safeParse(input.mark);
      const runStartedAt = z.iso.datetime().safeParse(input.runStartedAt);
      const mappingVersion = mappingVersionSchema.optional().safeParse(input.mappingVersion);
      if (!mark.success || !runStartedAt.success || !mappingVersion.success) {
        throw ApplicationFailure.nonRetryable(
          `a high-water mark must be printable ASCII of at most ${MAX_MARK_LENGTH} characters, saved with the run's start time and mapping version`,
          FailureType.UpstreamValueRefused,
        );
      }
      for (let attempt = 1; ; attempt++) {
        const current = await read(input);
        if (current.saved && Date.parse(current.saved.runStartedAt) > Date.parse(runStartedAt.data))
          return { saved: false };
        const saved: SavedMark = {
          mark: mark.data,
          mappingVersion: mappingVersion.data ?? null,
          runStartedAt: runStartedAt.data,
          savedAt: new Date().toISOString(),
        };
        try {
          await deps.store.put('state', syncMarkName(input), Buffer.from(JSON.stringify(saved)), {
            ...(current.etag === undefined ? { ifNoneMatch: '*' as const } : { ifMatch: current.etag }),
          });
          return { saved: true };
        } catch (error) {
          // Another save landed between the read and the write; the activity's retry policy takes over after a few.
          if (!lostRace(error) || attempt >= SAVE_ATTEMPTS) throw failureOf(error);
        }
      }
    },
  };
}
export type SyncMarkActivities = ReturnType<typeof createSyncMarkActivities>;
