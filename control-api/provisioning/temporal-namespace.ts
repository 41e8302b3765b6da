import type { Connection } from '@temporalio/client';
import proto from '@temporalio/proto';
import Long from 'long';
import { SA } from '../../common/search-attributes.js';

const ALREADY_EXISTS = 6;

function grpcCode(error: unknown): number | undefined {
  return typeof error === 'object' && error !== null && 'code' in error
    ? Number((error as { code: unknown }).code)
    : undefined;
}

/** Registers the environment's namespace and its search attributes; safe to call again. */
export async function ensureNamespace(
  connection: Connection,
  namespace: string,
  retentionHours: number,
): Promise<void> {
  try {
    await connection.workflowService.registerNamespace({
      namespace,
      description: 'Tavio environment',
      workflowExecutionRetentionPeriod: { seconds: Long.fromNumber(retentionHours * 3600) },
    });
  } catch (error) {
    if (grpcCode(error) !== ALREADY_EXISTS) throw error;
  }
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
  await waitUntilUsable(connection, namespace);
}

/** A new namespace takes a moment to reach every service's cache; wait until it answers. */
async function waitUntilUsable(connection: Connection, namespace: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const attrs = await connection.operatorService.listSearchAttributes({ namespace });
      await connection.workflowService.listWorkflowExecutions({
        namespace,
        pageSize: 1,
        query: `${SA.organization.name} = 'probe'`,
      });
      if (Object.values(SA).every((key) => key.name in (attrs.customAttributes ?? {}))) return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
    }
    if (Date.now() > deadline)
      throw new Error(`namespace ${namespace} did not become usable within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}
