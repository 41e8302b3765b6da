import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import type { DroppedMessageReason, WorkerExitReason } from '../common/telemetry/host-metrics.js';
import type { WorkerSecrets } from '../common/worker-secrets.js';

/** Workers start in the project's folder, whoever they run as. */
const PROJECT_ROOT = fileURLToPath(new URL('..', import.meta.url));
const MAX_BACKOFF_MS = 30_000;
const STABLE_AFTER_MS = 60_000;
/** How often, at most, the host logs that it dropped a worker's messages (a worker cannot flood the log). */
const DROP_LOG_EVERY_MS = 60_000;
/** The longest stopping reason of a worker that the host logs. */
const MAX_STOPPING_REASON = 200;

/**
 * Messages one worker may send its host: a burst, then a rate per second. A worker sends about
 * three a second (runtime metrics, a batch of spans, whether it is busy); the rest are dropped
 * before anything parses them.
 */
export interface WorkerMessageLimits {
  burst: number;
  perSecond: number;
}
export const DEFAULT_WORKER_MESSAGE_LIMITS: WorkerMessageLimits = { burst: 60, perSecond: 20 };

/**
 * The host's end of one worker's IPC channel: drops what exceeds the worker's rate and what is not
 * an object, before any handler parses it, and catches whatever a handler throws. Each drop is
 * counted; it is logged at most once a minute per worker, by reason and count, never by content.
 */
export function createWorkerInbox(options: {
  key: string;
  log: Logger;
  handle: (message: object) => void;
  dropped?: (reason: DroppedMessageReason) => void;
  limits?: WorkerMessageLimits;
  now?: () => number;
}): (message: unknown) => void {
  const limits = options.limits ?? DEFAULT_WORKER_MESSAGE_LIMITS;
  const now = options.now ?? Date.now;
  let tokens = limits.burst;
  let filledAt = now();
  let loggedAt = Number.NEGATIVE_INFINITY;
  const unlogged = new Map<DroppedMessageReason, number>();

  function drop(reason: DroppedMessageReason): void {
    options.dropped?.(reason);
    unlogged.set(reason, (unlogged.get(reason) ?? 0) + 1);
    if (now() - loggedAt < DROP_LOG_EVERY_MS) return;
    loggedAt = now();
    options.log.warn(
      { worker: options.key, droppedMessages: Object.fromEntries(unlogged) },
      "dropped an environment worker's messages",
    );
    unlogged.clear();
  }

  return (message: unknown) => {
    const time = now();
    tokens = Math.min(limits.burst, tokens + ((time - filledAt) / 1000) * limits.perSecond);
    filledAt = time;
    if (tokens < 1) return drop('rate');
    tokens -= 1;
    if (typeof message !== 'object' || message === null || Array.isArray(message))
      return drop('not-an-object');
    try {
      options.handle(message);
    } catch {
      drop('failed');
    }
  };
}

export interface SupervisedWorker {
  key: string;
  /** Environment variables of the child: that environment's settings, no secret. */
  env: () => Record<string, string>;
  /** The child's first secrets, sent over its IPC channel as soon as it exists. */
  secrets: () => Promise<WorkerSecrets>;
  /** Told why the worker cannot start (its sandbox, its secrets), and null once it has started. */
  onProblem?: (problem: string | null) => void;
}

/** Who a worker process runs as, and its private folder (HOME and TMPDIR). */
export interface WorkerIdentity {
  uid: number;
  gid: number;
  home: string;
}

/** Gives each worker process an identity of its own before it starts, and takes it back after it exited. */
export interface WorkerSandbox {
  prepare(key: string): Promise<WorkerIdentity>;
  release(key: string): Promise<void>;
}

interface Slot {
  spec: SupervisedWorker;
  child?: ChildProcess;
  /** The current life of the worker: settles once its process exited and its sandbox is released. */
  life?: Promise<void>;
  startedAt: number;
  failures: number;
  stopping: boolean;
  /** Whether the worker last said it has tasks in hand. */
  busy: boolean;
  restartTimer?: NodeJS.Timeout;
  /** Its messages, across its restarts: their rate and their drops are the worker's, not one life's. */
  inbox: (message: unknown) => void;
  /** Whether this life's stopping reason was logged: the host logs it once a life. */
  toldStopping: boolean;
}

/** What a supervisor tells about its workers' lives (for the host's metrics). */
export interface SupervisorEvents {
  started(): void;
  restarting(): void;
  exited(reason: WorkerExitReason): void;
  /** A worker's message that the supervisor does not handle itself; answers whether it was taken. */
  message(key: string, message: object): boolean;
  /** A worker's message dropped before it was handled (see createWorkerInbox). */
  messageDropped?(reason: DroppedMessageReason): void;
}

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

function exitReason(slot: Slot, exit: Exit): WorkerExitReason {
  if (slot.stopping) return 'stopped';
  if (exit.signal) return 'killed';
  return exit.code === 0 ? 'exited' : 'crashed';
}

/**
 * Runs one OS process per environment worker (`entryPath`, compiled JavaScript on plain `node`),
 * each in its sandbox when one is given; restarts a crashed one with exponential backoff and stops
 * those that are no longer wanted.
 */
export function createSupervisor(
  log: Logger,
  entryPath: string,
  sandbox?: WorkerSandbox,
  events?: SupervisorEvents,
) {
  const slots = new Map<string, Slot>();

  /** Prepares the sandbox, starts the process and waits for its exit; the sandbox is released in any case. */
  async function live(slot: Slot): Promise<Exit | undefined> {
    const key = slot.spec.key;
    // The sandbox and the secrets are made side by side: a cold start waits for the slower only.
    const [prepared, issued] = await Promise.allSettled([sandbox?.prepare(key), slot.spec.secrets()]);
    // A sandbox that failed to be prepared has released itself.
    const identity = prepared.status === 'fulfilled' ? prepared.value : undefined;
    try {
      if (prepared.status === 'rejected') throw prepared.reason;
      if (issued.status === 'rejected') throw issued.reason;
      const secrets = issued.value;
      if (slot.stopping) return undefined;
      const child = fork(entryPath, [], {
        cwd: PROJECT_ROOT,
        // Nothing is inherited from the host: the child gets its own environment's settings only.
        env: {
          AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
          // Few malloc arenas: the SDK's native threads otherwise each grow one of their own.
          MALLOC_ARENA_MAX: '2',
          ...slot.spec.env(),
          ...(identity && { HOME: identity.home, TMPDIR: identity.home }),
        },
        // Node drops the supplementary groups when it switches to the worker's user.
        uid: identity?.uid,
        gid: identity?.gid,
        // A young generation of at most 4 MiB per semi-space (V8's default is 16), in both of the
        // worker's V8 isolates (main and workflow thread). A worker that has served a run holds
        // 181 MiB (bench:workers, p50); with 1 MiB it holds 162, but its collector then costs about
        // 1.5 ms per page of 100 records instead of 0.8, and P1 falls from about 0.8x to 0.67x.
        execArgv: ['--max-semi-space-size=4'],
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      });
      const exited = new Promise<Exit>((resolve, reject) => {
        child.once('exit', (code, signal) => resolve({ code, signal }));
        child.on('error', (error) => {
          // Without a pid the process never started, and no exit follows.
          if (child.pid === undefined) reject(error);
          else log.error({ worker: key, err: error.message }, 'environment worker process error');
        });
      });
      // A process that never started has no pid; its error is the reason.
      if (child.pid === undefined) await exited;
      slot.child = child;
      slot.startedAt = Date.now();
      slot.toldStopping = false;
      child.send({ secrets });
      child.on('message', slot.inbox);
      log.info({ worker: key, pid: child.pid, uid: identity?.uid }, 'environment worker started');
      events?.started();
      slot.spec.onProblem?.(null);
      try {
        return await exited;
      } finally {
        slot.child = undefined;
        slot.busy = false;
      }
    } finally {
      if (sandbox && identity)
        await sandbox
          .release(key)
          .catch((error: Error) => log.error({ worker: key, err: error.message }, 'sandbox not released'));
    }
  }

  function scheduleStart(slot: Slot): number {
    const delay = Math.min(MAX_BACKOFF_MS, 500 * 2 ** (slot.failures - 1));
    slot.restartTimer = setTimeout(() => start(slot), delay);
    return delay;
  }

  function start(slot: Slot): void {
    slot.life = live(slot).then(
      (exit) => {
        if (exit) events?.exited(exitReason(slot, exit));
        if (slot.stopping || !exit) return;
        events?.restarting();
        slot.failures = Date.now() - slot.startedAt > STABLE_AFTER_MS ? 1 : slot.failures + 1;
        const delay = scheduleStart(slot);
        log.warn(
          { worker: slot.spec.key, ...exit, restartInMs: delay },
          'environment worker exited; restarting',
        );
      },
      (error: Error) => {
        if (slot.stopping) return;
        events?.exited('start-failed');
        events?.restarting();
        slot.failures += 1;
        const delay = scheduleStart(slot);
        log.error(
          { worker: slot.spec.key, err: error.message, retryInMs: delay },
          'environment worker could not start',
        );
        slot.spec.onProblem?.(error.message);
      },
    );
  }

  /** Stops a worker; resolves once its process exited and its sandbox is released. */
  async function stop(key: string): Promise<void> {
    const slot = slots.get(key);
    if (!slot) return;
    slots.delete(key);
    slot.stopping = true;
    clearTimeout(slot.restartTimer);
    const child = slot.child;
    let kill: NodeJS.Timeout | undefined;
    if (child) {
      log.info({ worker: key }, 'stopping environment worker');
      kill = setTimeout(() => child.kill('SIGKILL'), 15_000);
      child.kill('SIGTERM');
    }
    // A worker still starting (its sandbox and secrets being made) sees that it is stopping, starts
    // no process and releases its sandbox: that is waited for too, so nothing of it outlives the stop.
    await slot.life;
    clearTimeout(kill);
  }

  /** What the supervisor takes of a worker's messages itself: why it stops (once a life) and whether it is busy. */
  function handle(slot: Slot, message: { stopping?: unknown; busy?: unknown }): void {
    const key = slot.spec.key;
    if (events?.message(key, message)) return;
    if (typeof message.stopping === 'string' && !slot.toldStopping) {
      slot.toldStopping = true;
      log.error(
        { worker: key, reason: message.stopping.slice(0, MAX_STOPPING_REASON) },
        'environment worker stopping',
      );
    }
    if (typeof message.busy === 'boolean') slot.busy = message.busy;
  }

  return {
    ensure(spec: SupervisedWorker): void {
      if (slots.has(spec.key)) return;
      const slot: Slot = {
        spec,
        startedAt: 0,
        failures: 0,
        stopping: false,
        busy: false,
        toldStopping: false,
        inbox: () => undefined,
      };
      slot.inbox = createWorkerInbox({
        key: spec.key,
        log,
        handle: (message) => handle(slot, message),
        dropped: events?.messageDropped,
      });
      slots.set(spec.key, slot);
      start(slot);
    },
    stop,
    /** Sends renewed secrets to a running worker. */
    sendSecrets(key: string, secrets: WorkerSecrets): void {
      slots.get(key)?.child?.send({ secrets });
    },
    /** Whether a worker is wanted for the key: running, starting or waiting to restart. */
    has: (key: string): boolean => slots.has(key),
    /** How many worker processes run now. */
    running: (): number => [...slots.values()].filter((slot) => slot.child).length,
    /** Whether the worker runs and last said it has workflow or activity tasks in hand. */
    busy: (key: string): boolean => slots.get(key)?.busy ?? false,
    stopAll: () => Promise.all([...slots.keys()].map(stop)).then(() => undefined),
  };
}
