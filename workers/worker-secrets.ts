import type { Logger } from 'pino';
import type { InitialWorkerSecrets, WorkerSecrets } from '../common/worker-secrets.js';

const RETRY_MS = 5_000;

/** Where a worker's secrets come from: its host's STS session, the control API and the gateway's password file. */
export type SecretSources = { [K in keyof InitialWorkerSecrets]: () => Promise<InitialWorkerSecrets[K]> };
/** Secrets that expire; the payload key does not, and is sent once per worker start. */
type Renewable = 'credentials' | 'temporal' | 'proxy';

const EXPIRY: { [K in Renewable]: (value: InitialWorkerSecrets[K]) => number } = {
  credentials: (value) => Date.parse(value.expiration),
  temporal: (value) => Date.parse(value.expiresAt),
  proxy: (value) => Date.parse(value.expiresAt),
};
const halfLifeLeft = <K extends Renewable>(kind: K, value: InitialWorkerSecrets[K]): number =>
  (EXPIRY[kind](value) - Date.now()) / 2;

/**
 * Issues each environment worker's credentials and Temporal token, and renews each at half its
 * remaining life for as long as the worker is wanted; a failed renewal is logged and retried.
 */
export function createWorkerSecrets(log: Logger, deliver: (key: string, update: WorkerSecrets) => void) {
  const timers = new Map<string, Map<Renewable, NodeJS.Timeout>>();

  function schedule<K extends Renewable>(
    key: string,
    kind: K,
    source: () => Promise<InitialWorkerSecrets[K]>,
    delayMs: number,
  ): void {
    const own = timers.get(key);
    if (!own) return;
    clearTimeout(own.get(kind));
    const renew = () =>
      source().then(
        (value) => {
          deliver(key, { [kind]: value });
          schedule(key, kind, source, halfLifeLeft(kind, value));
        },
        (error: Error) => {
          log.error({ worker: key, secret: kind, err: error.message }, 'renewal failed; retrying');
          schedule(key, kind, source, RETRY_MS);
        },
      );
    own.set(
      kind,
      setTimeout(() => void renew(), Math.max(RETRY_MS, delayMs)),
    );
  }

  function forget(key: string): void {
    for (const timer of timers.get(key)?.values() ?? []) clearTimeout(timer);
    timers.delete(key);
  }

  return {
    /** A worker's first secrets; renewals follow until `forget`. */
    async issue(key: string, sources: SecretSources): Promise<InitialWorkerSecrets> {
      const [credentials, temporal, payloadKey, proxy] = await Promise.all([
        sources.credentials(),
        sources.temporal(),
        sources.payloadKey(),
        sources.proxy(),
      ]);
      if (!timers.has(key)) timers.set(key, new Map());
      schedule(key, 'credentials', sources.credentials, halfLifeLeft('credentials', credentials));
      schedule(key, 'temporal', sources.temporal, halfLifeLeft('temporal', temporal));
      schedule(key, 'proxy', sources.proxy, halfLifeLeft('proxy', proxy));
      return { credentials, temporal, payloadKey, proxy };
    },
    forget,
    forgetAll: () => [...timers.keys()].forEach(forget),
  };
}
