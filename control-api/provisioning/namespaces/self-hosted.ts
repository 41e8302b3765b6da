import type { Connection } from '@temporalio/client';
import proto from '@temporalio/proto';
import Long from 'long';
import { DEFAULT_RETENTION } from '../../../common/retention.js';
import { SA } from '../../../common/search-attributes.js';
import {
  GRPC_ALREADY_EXISTS,
  GRPC_NOT_FOUND,
  NamespaceNotOwned,
  OWNER_DATA_KEY,
  grpcCode,
} from './provider.js';
import type { NamespaceProvider } from './provider.js';

const DAY_SECONDS = 86_400;

/** Runs `work` on the Temporal connection with an admin token of that namespace only. */
export type Administer = <T>(namespace: string, work: (connection: Connection) => Promise<T>) => Promise<T>;

/**
 * Namespaces of a self-hosted Temporal server, made with its own workflow and operator services;
 * the environment's id is kept in the namespace's data.
 */
export function selfHostedNamespaces(administer: Administer): NamespaceProvider {
  return {
    register: ({ namespace, environmentId }) =>
      administer(namespace, (connection) => registerOwnNamespace(connection, namespace, environmentId)),
    ensureSearchAttributes: (namespace) =>
      administer(namespace, (connection) => ensureSearchAttributes(connection, namespace)),
    setHistoryRetention: (namespace, days) =>
      administer(namespace, async (connection) => {
        await connection.workflowService.updateNamespace({
          namespace,
          config: { workflowExecutionRetentionTtl: { seconds: Long.fromNumber(days * DAY_SECONDS) } },
        });
      }),
    remove: (namespace) =>
      administer(namespace, async (connection) => {
        await connection.operatorService.deleteNamespace({ namespace }).catch((error: unknown) => {
          if (grpcCode(error) !== GRPC_NOT_FOUND) throw error;
        });
      }),
  };
}

/**
 * Registers the environment's namespace, tagged with the environment's id. A namespace that already
 * exists counts as this environment's only when it carries that tag (an earlier attempt that
 * registered it and failed before recording it); anyone else's is refused. Answers when it was
 * registered.
 */
async function registerOwnNamespace(
  connection: Connection,
  namespace: string,
  environmentId: string,
): Promise<Date> {
  try {
    await connection.workflowService.registerNamespace({
      namespace,
      description: 'Tavio environment',
      data: { [OWNER_DATA_KEY]: environmentId },
      // The default policy's history retention; the policy in force is applied once it is made.
      workflowExecutionRetentionPeriod: {
        seconds: Long.fromNumber(DEFAULT_RETENTION.historyDays * DAY_SECONDS),
      },
    });
  } catch (error) {
    if (grpcCode(error) !== GRPC_ALREADY_EXISTS) throw error;
    const existing = await connection.workflowService.describeNamespace({ namespace });
    if (existing.namespaceInfo?.data?.[OWNER_DATA_KEY] !== environmentId) {
      throw new NamespaceNotOwned(
        `namespace ${namespace} already exists and was not registered for this environment; it is not adopted`,
      );
    }
  }
  await waitUntilUsable(connection, namespace, async () => true);
  return new Date();
}

/** Adds Tavio's search attributes to the namespace where missing; safe to call again. */
async function ensureSearchAttributes(connection: Connection, namespace: string): Promise<void> {
  const existing = await connection.operatorService.listSearchAttributes({ namespace });
  const missing = Object.values(SA)
    .map((key) => key.name)
    .filter((name) => !(name in (existing.customAttributes ?? {})));
  if (missing.length > 0) {
    await connection.operatorService.addSearchAttributes({
      namespace,
      searchAttributes: Object.fromEntries(
        missing.map((name) => [
          name,
          proto.temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
        ]),
      ),
    });
  }
  await waitUntilUsable(connection, namespace, async () => {
    const attrs = await connection.operatorService.listSearchAttributes({ namespace });
    await connection.workflowService.listWorkflowExecutions({
      namespace,
      pageSize: 1,
      query: `${SA.organization.name} = 'probe'`,
    });
    return Object.values(SA).every((key) => key.name in (attrs.customAttributes ?? {}));
  });
}

/** A new namespace or attribute takes a moment to reach every service's cache; wait until it answers. */
async function waitUntilUsable(
  connection: Connection,
  namespace: string,
  ready: () => Promise<boolean>,
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await connection.workflowService.describeNamespace({ namespace });
      if (await ready()) return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
    }
    if (Date.now() > deadline)
      throw new Error(`namespace ${namespace} did not become usable within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}
