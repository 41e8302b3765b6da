import type { ConnectionRef } from '../../common/connections.js';

/** Metadata that crosses Temporal for the hris-employee-sync integration: identifiers and counts only. */

export interface HrisSyncOptions {
  pageSize: number;
  pagesPerExecution: number;
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

export interface HrisSyncInput {
  source: ConnectionRef;
  destination: ConnectionRef;
  options: HrisSyncOptions;
  /** Carried across continue-as-new. */
  progress?: { cursor: string | null; totals: SyncTotals; startedAt: number; executions: number };
}

export interface HrisSyncSummary extends SyncTotals {
  executions: number;
  durationMs: number;
}

export interface SyncPageInput {
  source: ConnectionRef;
  destination: ConnectionRef;
  cursor: string | null;
  pageSize: number;
}

export interface SyncPageResult {
  read: number;
  written: number;
  skipped: number;
  nextCursor: string | null;
  checksum: string;
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
  /** Where the next page starts; null once the source has no more. */
  nextCursor: string | null;
  /** XOR of the pages' checksums. */
  checksum: string;
}

export interface SyncPagesResult extends SyncPagesProgress {
  /** Requests this attempt sent through the gateway, by host. */
  egress: Record<string, number>;
}
