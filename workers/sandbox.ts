import { rm } from 'node:fs/promises';
import type { Logger } from 'pino';
import {
  addUidScript,
  isSandboxUserOf,
  removeUidScript,
  sandboxTableName,
  sandboxUserName,
  tableScript,
} from './sandbox-rules.js';
import {
  createHome,
  createHomeRoot,
  deleteTable,
  endpointsOf,
  ensureUser,
  killAllProcessesOf,
  nft,
  passwd,
  removeStaleHomeRoots,
  removeUnusedUsers,
  removeUser,
  workerUids,
} from './sandbox-system.js';
import type { OsUser } from './sandbox-system.js';
import type { WorkerIdentity, WorkerSandbox } from './supervisor.js';

/**
 * The kernel's hold on a region's environment workers. Each worker runs as an OS user of its own,
 * with a private HOME and TMPDIR, and its sockets may reach only Temporal and the region's
 * gateway (see tableScript). The host creates the user right before a worker starts and deletes
 * it, with everything it left running, once the worker has stopped.
 */

export interface RegionSandboxOptions {
  /** The region's gateway code: it names the table and marks the region's users. */
  gateway: string;
  /** host:port of the Temporal frontend. */
  temporalAddress: string;
  gatewayUrl: string;
  /** Concurrent connections one worker may hold to the gateway. */
  gatewayConnectionLimit?: number;
  log: Logger;
}

/** What is left of a worker's sandbox after its release, checked against the system itself. */
export interface SandboxRelease {
  osUser: string;
  osUserRemoved: boolean;
  networkRulesRemoved: boolean;
}

export interface RegionSandbox extends WorkerSandbox {
  /** Checks that a released worker's user and its uid in the table are gone. */
  verifyReleased(key: string): Promise<SandboxRelease>;
  /** Removes what earlier hosts of this region left, then creates the table. */
  start(): Promise<void>;
  /** Releases every worker still held, then deletes the table and the private folders. */
  close(): Promise<void>;
}

interface Held {
  user: OsUser;
  home?: string;
}

/** Far above what one worker's activities hold at once, far below what would starve its siblings. */
const GATEWAY_CONNECTION_LIMIT = 64;

function hostAndPort(address: string): [string, number] {
  const at = address.lastIndexOf(':');
  return [address.slice(0, at), Number(address.slice(at + 1))];
}

function gatewayHostAndPort(url: string): [string, number] {
  const parsed = new URL(url);
  return [parsed.hostname, Number(parsed.port || (parsed.protocol === 'https:' ? 443 : 80))];
}

const reason = (error: unknown): string => (error instanceof Error ? error.message : String(error));

export function createRegionSandbox(options: RegionSandboxOptions): RegionSandbox {
  const { gateway, log } = options;
  const table = sandboxTableName(gateway);
  const held = new Map<string, Held>();
  /** The uid each environment's worker last ran as, to check its release. */
  const lastUid = new Map<string, number>();
  let root: string | undefined;
  let tableReady = false;
  let closed = false;

  // One change at a time: a worker's release never overtakes its preparation, nor the table's creation.
  let queue: Promise<unknown> = Promise.resolve();
  function serial<T>(step: () => Promise<T>): Promise<T> {
    const next = queue.then(step);
    queue = next.catch(() => undefined);
    return next;
  }

  async function ready(): Promise<string> {
    if (closed) throw new Error('the sandbox is closed');
    try {
      root ??= await createHomeRoot(gateway);
    } catch (error) {
      throw new Error(`the workers' private folders could not be created: ${reason(error)}`);
    }
    if (!tableReady) {
      try {
        await nft(
          tableScript({
            table,
            temporal: await endpointsOf(...hostAndPort(options.temporalAddress)),
            gateway: await endpointsOf(...gatewayHostAndPort(options.gatewayUrl)),
            gatewayConnectionLimit: options.gatewayConnectionLimit ?? GATEWAY_CONNECTION_LIMIT,
          }),
        );
      } catch (error) {
        throw new Error(`nftables table ${table} could not be created: ${reason(error)}`);
      }
      tableReady = true;
    }
    return root;
  }

  /** Each step runs even when an earlier one failed; the failures are reported together. */
  async function releaseHeld(key: string): Promise<void> {
    const entry = held.get(key);
    if (!entry) return;
    held.delete(key);
    const { user, home } = entry;
    const failures: string[] = [];
    const step = (what: string, action: () => Promise<unknown>) =>
      action().catch((error: unknown) => failures.push(`${what}: ${reason(error)}`));
    // Nothing of the user may outlive its network rules.
    await step('kill its processes', () => killAllProcessesOf(user));
    if (tableReady) await step('remove its uid from the table', () => nft(removeUidScript(table, user.uid)));
    if (home) await step('remove its folder', () => rm(home, { recursive: true, force: true }));
    await step('delete the user', () => removeUser(user));
    if (failures.length > 0)
      throw new Error(`sandbox of ${user.name} not fully released: ${failures.join('; ')}`);
  }

  return {
    start: () =>
      serial(async () => {
        try {
          const users = await removeUnusedUsers((name) => isSandboxUserOf(gateway, name));
          const roots = await removeStaleHomeRoots(gateway, new Set(users.inUse));
          if (users.removed.length + users.inUse.length + roots.length > 0)
            log.info({ ...users, folders: roots }, 'removed what earlier region hosts left');
        } catch (error) {
          log.warn({ err: reason(error) }, 'could not remove what earlier region hosts left');
        }
        await ready().catch((error: unknown) =>
          log.error({ err: reason(error) }, 'environment workers cannot start until the sandbox is ready'),
        );
      }),

    prepare: (key) =>
      serial(async (): Promise<WorkerIdentity> => {
        const folders = await ready();
        const name = sandboxUserName(gateway, key);
        let user: OsUser;
        try {
          user = await ensureUser(name);
        } catch (error) {
          throw new Error(`OS user ${name} could not be created: ${reason(error)}`);
        }
        const entry: Held = { user };
        held.set(key, entry);
        lastUid.set(key, user.uid);
        try {
          await nft(addUidScript(table, user.uid));
          // A reused user may still run what an earlier worker left; its rules hold from here on.
          await killAllProcessesOf(user);
          entry.home = await createHome(folders, user);
        } catch (error) {
          await releaseHeld(key).catch(() => undefined);
          throw new Error(`sandbox of ${name} could not be prepared: ${reason(error)}`);
        }
        return { uid: user.uid, gid: user.gid, home: entry.home };
      }),

    release: (key) => serial(() => releaseHeld(key)),

    verifyReleased: (key) =>
      serial(async (): Promise<SandboxRelease> => {
        const osUser = sandboxUserName(gateway, key);
        const uid = lastUid.get(key);
        const users = await passwd();
        const uids = tableReady ? await workerUids(table) : [];
        return {
          osUser,
          osUserRemoved: !held.has(key) && !users.some((entry) => entry.name === osUser),
          networkRulesRemoved: !held.has(key) && (uid === undefined || !uids.includes(uid)),
        };
      }),

    close: () =>
      serial(async () => {
        closed = true;
        const failures: string[] = [];
        const step = (action: () => Promise<unknown>) =>
          action().catch((error: unknown) => failures.push(reason(error)));
        for (const key of [...held.keys()]) await step(() => releaseHeld(key));
        if (tableReady) await step(() => deleteTable(table));
        tableReady = false;
        const folders = root;
        if (folders) await step(() => rm(folders, { recursive: true, force: true }));
        if (failures.length > 0) throw new Error(`sandbox not fully removed: ${failures.join('; ')}`);
      }),
  };
}
