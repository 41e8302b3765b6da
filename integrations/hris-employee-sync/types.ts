import type { ConnectionRef } from '../../common/connections.js';
import type { DeclaredMapping } from './declared-mapping.js';

/** Metadata that crosses Temporal for the hris-employee-sync integration: identifiers and counts only. */

/**
 * `full` lists every employee and deactivates at the destination those it did not see;
 * `incremental` lists what changed since the connection pair's high-water mark (everything, as a
 * full run does, when there is no mark yet or the mark was saved under another mapping version).
 * A full listing that reads no employee is refused, never reconciled.
 */
export type SyncMode = 'full' | 'incremental';

export interface HrisSyncOptions {
  pageSize: number;
  pagesPerExecution: number;
  /** `full` when absent (runs started before modes existed, or not through the control API). */
  mode?: SyncMode;
}

export interface SyncTotals {
  recordsRead: number;
  recordsWritten: number;
  recordsSkipped: number;
  pages: number;
  /** XOR of per-page SHA-256 digests (hex) of the records written: order-independent. */
  checksum: string;
  /** Requests sent through the region's gateway by completed page activities, by `host:port`. */
  egress?: Record<string, number>;
}

export interface HrisSyncTotals extends SyncTotals {
  /** Employees deactivated at the destination: terminated, deleted, or missing from a full listing. */
  recordsDeactivated: number;
}

export interface HrisSyncInput {
  source: ConnectionRef;
  destination: ConnectionRef;
  options: HrisSyncOptions;
  /** The connection pair's declared mapping in force when the run started; absent: the fixed mapping. */
  mapping?: DeclaredMapping;
  /** Carried across continue-as-new. */
  progress?: {
    cursor: string | null;
    /** Totals carried by runs started before deactivation have no `recordsDeactivated`. */
    totals: SyncTotals & Partial<HrisSyncTotals>;
    startedAt: number;
    executions: number;
    /** The high-water mark the listing started from; null when it lists everything. */
    since?: string | null;
    /** The listing's own `as_of`: the mark a completed run saves. */
    mark?: string | null;
    /**
     * Whether the listing's end deactivates whoever it did not see: decided when it started, so a
     * run started before reconciliation existed never reconciles in a later execution.
     */
    reconcile?: boolean;
  };
}

export interface HrisSyncSummary extends HrisSyncTotals {
  mode: SyncMode;
  executions: number;
  durationMs: number;
}

export interface SyncPageInput {
  source: ConnectionRef;
  destination: ConnectionRef;
  cursor: string | null;
  pageSize: number;
  /** The run's declared mapping (paths and rules); absent: the fixed mapping. */
  mapping?: DeclaredMapping;
  /** Lists only what changed after this high-water mark (`updated_since`); null or absent: everything. */
  since?: string | null;
  /**
   * The listing is a full one that the run reconciles when it ends: its upserts name the run as
   * their session, with the ids of the records it skipped (see `deactivateMissing`).
   */
  reconcile?: boolean;
}

export interface SyncPageResult {
  read: number;
  written: number;
  skipped: number;
  /** Employees deactivated (terminated, deleted); absent from results of older workers. */
  deactivated?: number;
  nextCursor: string | null;
  checksum: string;
  /** The listing's `as_of`, when the source gives one: a timestamp or token, bounded like a cursor. */
  asOf?: string | null;
  /** Requests this page sent through the gateway, by host; absent from results of older workers. */
  egress?: Record<string, number>;
}

/** Several pages in one activity: from `cursor`, at most `maxPages`, fewer when its time runs short. */
export interface SyncPagesInput extends SyncPageInput {
  maxPages: number;
}

/** What a run of pages moved, summed; also its heartbeat details, from which a retry resumes. */
export interface SyncPagesProgress {
  pages: number;
  read: number;
  written: number;
  skipped: number;
  /** Absent from the heartbeats of older workers. */
  deactivated?: number;
  /** The listing's `as_of`, once a page is loaded; absent from the heartbeats of older workers. */
  asOf?: string | null;
  /** Where the next page starts; null once the source has no more. */
  nextCursor: string | null;
  /** XOR of the pages' checksums. */
  checksum: string;
}

export interface SyncPagesResult extends SyncPagesProgress {
  /** Requests this attempt sent through the gateway, by host. */
  egress: Record<string, number>;
}

/** The end of a full listing: the destination deactivates what the run's session did not see. */
export interface DeactivateMissingInput {
  destination: ConnectionRef;
}

export interface DeactivateMissingResult {
  deactivated: number;
  /** Requests sent through the gateway, by host. */
  egress: Record<string, number>;
}
