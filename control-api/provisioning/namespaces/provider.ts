import type { RegionCode } from '../../../common/regions.js';

/** The environment a namespace is made for. */
export interface NamespaceTarget {
  namespace: string;
  environmentId: string;
  region: RegionCode;
}

/**
 * Makes, adjusts and removes environments' Temporal namespaces. Every method is safe to call again
 * after a failure: provisioning, retention and retirement repeat a step until it succeeds.
 */
export interface NamespaceProvider {
  /**
   * Creates the environment's namespace, tagged with the environment's id, with Tavio's search
   * attributes where the provider makes them at creation. A namespace of that name that carries
   * another tag is refused (`NamespaceNotOwned`). Answers when it was registered.
   */
  register(target: NamespaceTarget): Promise<Date>;
  /** Adds Tavio's search attributes where missing, and waits until queries may use them. */
  ensureSearchAttributes(namespace: string): Promise<void>;
  /** Sets how many days Temporal keeps closed workflows' histories. */
  setHistoryRetention(namespace: string, days: number): Promise<void>;
  /** Deletes the namespace; one that does not exist counts as deleted. */
  remove(namespace: string): Promise<void>;
}

/** Tags a namespace with the environment it was registered for. */
export const OWNER_DATA_KEY = 'tavio.environment';

/** A namespace of that name exists and was not registered for this environment: it is never adopted. */
export class NamespaceNotOwned extends Error {
  override readonly name = 'NamespaceNotOwned';
}

export function grpcCode(error: unknown): number | undefined {
  return typeof error === 'object' && error !== null && 'code' in error
    ? Number((error as { code: unknown }).code)
    : undefined;
}
export const GRPC_NOT_FOUND = 5;
export const GRPC_ALREADY_EXISTS = 6;
