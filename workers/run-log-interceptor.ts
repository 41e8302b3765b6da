import type { Context } from '@temporalio/activity';
import { ApplicationFailure, defaultPayloadConverter } from '@temporalio/common';
import type { Headers } from '@temporalio/common';
import type { ActivityInboundCallsInterceptor, ActivityInterceptorsFactory } from '@temporalio/worker';
import { withEgressTally } from '../activities/egress.js';
import { createRunLog, withRunLog } from '../activities/run-log.js';
import type { RunLog } from '../activities/run-log.js';
import { FailureType } from '../common/failures.js';
import {
  CHUNK_MAX_BYTES,
  CHUNK_MAX_RECORDS,
  chunkName,
  encodeChunk,
  FLUSH_INTERVAL_MS,
  LOG_DETAIL_HEADER,
  logDetailOf,
  recordLine,
} from '../common/run-log.js';
import type { LogDetail, LogFields, LogLevel, RunLogRecord } from '../common/run-log.js';
import type { SealedStore, SealScope } from '../common/sealed-objects.js';

/** Where an environment's run logs go: its bucket, sealed with its store. */
export interface RunLogTarget {
  store: SealedStore;
  scope: SealScope;
}

/** How long one chunk's write may take before it is given up. */
const WRITE_TIMEOUT_MS = 20_000;
/**
 * How long an activity's result waits at most for its last chunk (a write takes tens of
 * milliseconds; a stalled one must not cost the attempt its start-to-close time).
 */
const FINAL_FLUSH_WAIT_MS = 5_000;
/** A failure's message, at `records` detail, is cut to this length. */
const MAX_MESSAGE_CHARS = 2048;
const FINAL_FAILURE_TYPES = new Set<string>(Object.values(FailureType));

/** Where one activity execution's chunks are filed, and who hears of a chunk that was not written. */
interface ChunkOwner {
  target: RunLogTarget;
  workflowId: string;
  activityId: string;
  attempt: number;
  report(message: string, attributes: Record<string, unknown>): void;
}

/**
 * Buffers one activity execution's records and writes them as chunks, one write at a time. A
 * write that fails is reported and dropped: the run log never fails the activity.
 */
function createChunkWriter(owner: ChunkOwner) {
  const { target, workflowId } = owner;
  let lines: string[] = [];
  let bytes = 0;
  let seq = 0;
  let writing: Promise<void> = Promise.resolve();

  async function write(chunk: string[], flushedAt: number, n: number): Promise<void> {
    const name = chunkName({ ...owner, flushedAt, seq: n });
    try {
      const plaintext = await encodeChunk(chunk);
      // The requests name the run at the gateway, in a tally of their own: they are the run's
      // storage calls, but not part of the activity's reported egress.
      await withEgressTally(
        () =>
          target.store.put('logs', name, plaintext, {
            extra: { run: workflowId },
            abortSignal: AbortSignal.timeout(WRITE_TIMEOUT_MS),
          }),
        undefined,
        workflowId,
      );
    } catch (error) {
      owner.report('run log chunk not written', {
        name,
        records: chunk.length,
        error: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
      });
    }
  }

  /** Writes what is buffered, after the writes before it; resolves once all of them are done. */
  function flush(): Promise<void> {
    if (lines.length > 0) {
      const chunk = lines;
      const flushedAt = Date.now();
      const n = ++seq;
      lines = [];
      bytes = 0;
      writing = writing.then(() => write(chunk, flushedAt, n));
    }
    return writing;
  }

  return {
    append(record: RunLogRecord): void {
      const line = recordLine(record);
      lines.push(line);
      bytes += Buffer.byteLength(line) + 1;
      if (lines.length >= CHUNK_MAX_RECORDS || bytes >= CHUNK_MAX_BYTES) void flush();
    },
    flush,
  };
}

/** The run's detail level as its workflow passed it; `metadata` when absent or unreadable. */
export function logDetailFromHeaders(headers: Headers): LogDetail {
  const payload = headers[LOG_DETAIL_HEADER];
  if (!payload) return 'metadata';
  try {
    return logDetailOf(defaultPayloadConverter.fromPayload(payload));
  } catch {
    return 'metadata';
  }
}

/**
 * What an activity's failure leaves in its log: its type, never its message at `metadata` detail.
 * A failure that no retry can mend is an error, any other a warning.
 */
export function failureEntry(error: unknown, detail: LogDetail): { level: LogLevel; fields: LogFields } {
  const type =
    error instanceof ApplicationFailure
      ? (error.type ?? error.name)
      : error instanceof Error
        ? error.name
        : 'Error';
  const final = error instanceof ApplicationFailure && (error.nonRetryable || FINAL_FAILURE_TYPES.has(type));
  const message =
    detail === 'records' && error instanceof Error
      ? { message: error.message.slice(0, MAX_MESSAGE_CHARS) }
      : {};
  return { level: final ? 'error' : 'warn', fields: { type, ...message } };
}

/** Waits for `work`, or `ms` at most; says which came first. */
async function within(work: Promise<void>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
    timer.unref();
  });
  try {
    return await Promise.race([work.then(() => true as const), late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Gives each activity execution a run log in the environment's bucket: it records the activity's
 * start and end, holds what the activity logs through `runLog()`, writes chunks as they fill and
 * every few seconds, and writes the last one before the activity's result goes back.
 */
export function runLogInterceptor(target: RunLogTarget): ActivityInterceptorsFactory {
  return (ctx: Context): { inbound: ActivityInboundCallsInterceptor } => ({
    inbound: {
      async execute(input, next) {
        const { activityType, activityId, attempt, workflowExecution } = ctx.info;
        if (!workflowExecution) return next(input);
        const { workflowId, runId } = workflowExecution;
        const detail = logDetailFromHeaders(input.headers);
        const writer = createChunkWriter({
          target,
          workflowId,
          activityId,
          attempt,
          report: (message, attributes) => ctx.log.warn(message, attributes),
        });
        const log: RunLog = createRunLog({
          detail,
          scope: target.scope,
          write: (level, event, fields) =>
            writer.append({
              time: new Date().toISOString(),
              run: workflowId,
              execution: runId,
              activity: activityType,
              activityId,
              attempt,
              level,
              event,
              fields,
            }),
        });
        const ticker = setInterval(() => void writer.flush(), FLUSH_INTERVAL_MS);
        ticker.unref();
        const started = performance.now();
        const durationMs = () => Math.round(performance.now() - started);
        log.info('activity.started');
        try {
          const result = await withRunLog(log, () => next(input));
          log.info('activity.completed', { durationMs: durationMs() });
          return result;
        } catch (error) {
          const { level, fields } = failureEntry(error, detail);
          log[level]('activity.failed', { ...fields, durationMs: durationMs() });
          throw error;
        } finally {
          clearInterval(ticker);
          if (!(await within(writer.flush(), FINAL_FLUSH_WAIT_MS))) {
            ctx.log.warn('run log: the last chunk is still being written as the activity ends', {
              waitedMs: FINAL_FLUSH_WAIT_MS,
            });
          }
        }
      },
    },
  });
}
