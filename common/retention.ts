import { z } from 'zod';
import { LOG_DETAILS } from './log-detail.js';

/**
 * An environment's retention policy: how long each kind of object in its bucket, and each run's
 * Temporal history, is kept, and how much detail its run logs hold. Durations are whole hours or
 * days, each within bounds; a policy is versioned, and a run records the version it ran under.
 */

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

/** Each duration: its unit, its bounds, and its default (safe: buffers live a day at most). */
export const RETENTION_BOUNDS = {
  tmpBufferHours: { min: 1, max: 168, default: 24, unitMs: HOUR_MS },
  transferredFileDays: { min: 1, max: 3650, default: 365, unitMs: DAY_MS },
  quarantineDays: { min: 0, max: 365, default: 30, unitMs: DAY_MS },
  runLogDays: { min: 0, max: 400, default: 30, unitMs: DAY_MS },
  historyDays: { min: 1, max: 90, default: 3, unitMs: DAY_MS },
} as const;
type DurationField = keyof typeof RETENTION_BOUNDS;

const duration = (field: DurationField) => {
  const { min, max } = RETENTION_BOUNDS[field];
  return z
    .number({ error: `${field} must be a whole number` })
    .int(`${field} must be a whole number`)
    .min(min, `${field} must be at least ${min}`)
    .max(max, `${field} must be at most ${max}`);
};

export const retentionSettingsSchema = z
  .object({
    tmpBufferHours: duration('tmpBufferHours'),
    transferredFileDays: duration('transferredFileDays'),
    quarantineDays: duration('quarantineDays'),
    runLogDays: duration('runLogDays'),
    historyDays: duration('historyDays'),
    runLogDetail: z.enum(LOG_DETAILS),
  })
  .strict();
export type RetentionSettings = z.infer<typeof retentionSettingsSchema>;

export const DEFAULT_RETENTION: RetentionSettings = {
  tmpBufferHours: RETENTION_BOUNDS.tmpBufferHours.default,
  transferredFileDays: RETENTION_BOUNDS.transferredFileDays.default,
  quarantineDays: RETENTION_BOUNDS.quarantineDays.default,
  runLogDays: RETENTION_BOUNDS.runLogDays.default,
  historyDays: RETENTION_BOUNDS.historyDays.default,
  runLogDetail: 'metadata',
};

/** The bucket prefixes a policy governs, each by one duration; `credentials/` and `state/` (sync marks) are never swept. */
export const SWEPT_PREFIXES = {
  tmp: 'tmpBufferHours',
  files: 'transferredFileDays',
  quarantine: 'quarantineDays',
  logs: 'runLogDays',
} as const satisfies Record<string, DurationField>;
export type SweptPrefix = keyof typeof SWEPT_PREFIXES;

/** How long each swept prefix keeps an object, in milliseconds since it was last written. */
export function keepForMs(settings: RetentionSettings): Record<SweptPrefix, number> {
  const entries = Object.entries(SWEPT_PREFIXES).map(([prefix, field]) => [
    prefix,
    settings[field] * RETENTION_BOUNDS[field].unitMs,
  ]);
  return Object.fromEntries(entries) as Record<SweptPrefix, number>;
}

/** What one sweep is told: the policy version and how long each prefix keeps its objects. */
export interface SweepInput {
  policyVersion: number;
  keepForMs: Record<SweptPrefix, number>;
}

/** What a sweep destroyed under one prefix; never an object's name. */
export interface PrefixSweep {
  /** A swept prefix (`logs/`...); a retirement's receipt also counts `credentials/` and `other/`. */
  prefix: string;
  /** Objects last written before this time were due. */
  olderThan: string;
  objects: number;
  bytes: number;
  /** Unfinished multipart uploads begun before the cutoff, given up. */
  uploadsAborted: number;
  /** When the oldest and newest deleted object was last written; null when none was deleted. */
  oldest: string | null;
  newest: string | null;
  /** False when the prefix could not be swept to its end; what was deleted is still counted. */
  complete: boolean;
}

/** A prefix's receipt before anything under it is deleted. */
export function emptySweep(prefix: string, olderThan: string): PrefixSweep {
  const none = { objects: 0, bytes: 0, uploadsAborted: 0, oldest: null, newest: null, complete: true };
  return { prefix, olderThan, ...none };
}

/** Adds one deleted object to a prefix's counts and time range. */
export function countDeleted(
  into: Pick<PrefixSweep, 'objects' | 'bytes' | 'oldest' | 'newest'>,
  object: { LastModified?: Date; Size?: number },
): void {
  const at = (object.LastModified ?? new Date(0)).toISOString();
  into.objects += 1;
  into.bytes += object.Size ?? 0;
  if (into.oldest === null || at < into.oldest) into.oldest = at;
  if (into.newest === null || at > into.newest) into.newest = at;
}

export interface SweepReceipt {
  policyVersion: number;
  startedAt: string;
  finishedAt: string;
  prefixes: PrefixSweep[];
}

/**
 * A sweep's result as the control plane accepts it: it comes from the data plane, so it is checked
 * to hold counts, prefixes and times only before it becomes a receipt.
 */
const count = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const time = z.iso.datetime();
export const sweepReceiptSchema = z
  .object({
    policyVersion: count,
    startedAt: time,
    finishedAt: time,
    prefixes: z
      .array(
        z
          .object({
            prefix: z.enum(Object.keys(SWEPT_PREFIXES).map((p) => `${p}/`) as [string, ...string[]]),
            olderThan: time,
            objects: count,
            bytes: count,
            uploadsAborted: count,
            oldest: time.nullable(),
            newest: time.nullable(),
            complete: z.boolean(),
          })
          .strict(),
      )
      .max(Object.keys(SWEPT_PREFIXES).length),
  })
  .strict();

/** Attempts of a sweep step; the last answers what it deleted instead of failing. */
export const SWEEP_ATTEMPTS = 5;

/** The workflow type of an environment's retention sweep, and its schedule's id. */
export const SWEEP_WORKFLOW_TYPE = 'retentionSweep';
export const SWEEP_SCHEDULE_ID = 'tavio-retention-sweep';
