import type { SealedConnection } from '../common/names.js';

/**
 * Opened connections (host and secrets), kept in the worker's memory for the workflow execution
 * that opened them, so that its pages do not each fetch and decrypt the same sealed objects again.
 * An entry lives at most `ttlMs` from its opening and goes as soon as its execution reads its last
 * page; at most `maxEntries` are kept (the oldest goes first). Nothing is written anywhere: a
 * worker that stops forgets them all. A failed opening is not kept.
 */
export interface ConnectionCache {
  open(
    execution: string,
    connectionId: string,
    open: () => Promise<SealedConnection>,
  ): Promise<SealedConnection>;
  /** Drops what an execution opened: it has read its last page. */
  forget(execution: string): void;
  size(): number;
}

interface Entry {
  execution: string;
  value: Promise<SealedConnection>;
  expiresAt: number;
}

export function createConnectionCache(options: {
  ttlMs: number;
  maxEntries: number;
  now?: () => number;
}): ConnectionCache {
  const now = options.now ?? Date.now;
  const entries = new Map<string, Entry>();

  function sweep(): void {
    const at = now();
    for (const [key, entry] of entries) if (entry.expiresAt <= at) entries.delete(key);
    while (entries.size > options.maxEntries) entries.delete(entries.keys().next().value!);
  }

  return {
    open(execution, connectionId, open) {
      sweep();
      const key = `${execution}\n${connectionId}`;
      const hit = entries.get(key);
      if (hit) return hit.value;
      const value = open();
      entries.set(key, { execution, value, expiresAt: now() + options.ttlMs });
      value.catch(() => {
        if (entries.get(key)?.value === value) entries.delete(key);
      });
      sweep();
      return value;
    },
    forget(execution) {
      for (const [key, entry] of entries) if (entry.execution === execution) entries.delete(key);
    },
    size() {
      sweep();
      return entries.size;
    },
  };
}
