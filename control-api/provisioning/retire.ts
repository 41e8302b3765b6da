import { and, eq, inArray, isNull } from 'drizzle-orm';
import {
  apiKeys,
  connections,
  deletionReceipts,
  environments,
  fieldMappings,
  runs,
  webhookDeliveries,
  webhookEndpoints,
} from '../../db/schema.js';
import type { PrefixSweep } from '../../common/retention.js';
import { currentPolicy } from '../retention/policy.js';
import { collectSweepReceipts, receiptValues } from '../retention/receipts.js';
import { keyAliasOf } from '../../common/names.js';
import { audit } from '../audit.js';
import { retireSchedules } from '../schedule-removal.js';
import type { ProvisioningDeps } from './provision.js';
import { destroyBucket, destroyDataplaneRole, destroyKey } from './retire-aws.js';
import { readyAccountId } from './account-record.js';
import { awaitWorkerRelease } from './worker-release.js';
import type { WorkerRelease } from './worker-release.js';

type EnvironmentRow = typeof environments.$inferSelect;

/** What retiring an environment destroyed; written to the audit log as its deletion receipt. */
export interface RetirementReceipt {
  namespace: string;
  bucket: string;
  objectsDeleted: number;
  bytesDeleted: number;
  /** Per prefix (`logs/`, `tmp/`, `files/`...): what the storage service reported deleted. */
  prefixes: PrefixSweep[];
  keyArn: string | null;
  keyDisabled: boolean;
  keyDeletionDate: string | null;
  dataplaneRoleDeleted: boolean;
  /** Its Temporal payload data key was destroyed: what Temporal still holds of it cannot be read. */
  payloadKeyDestroyed: boolean;
  apiKeysRevoked: number;
  runsCanceled: number;
  /** Its schedules, deleted from Temporal and from the control database. */
  schedulesDeleted: number;
  /** Its webhook endpoints, deleted (listed no more), and their deliveries that had not ended, failed. */
  webhookEndpointsDeleted: number;
  webhookDeliveriesStopped: number;
  /** Its connections (and with them the destinations its region's gateway allowed it) deleted. */
  connectionsDeleted: number;
  /**
   * Its worker, as its region host confirmed: stopped, its OS user and network rules removed, its
   * gateway credentials revoked. `confirmed: false` when the host did not confirm in time.
   */
  worker: ({ confirmed: true; at: string } & WorkerRelease) | { confirmed: false };
  retiredAt: string;
}

/**
 * Deletes (softly: they stay readable in the control database) the environment's webhook endpoints
 * and fails their deliveries that had not ended, each endpoint audited. Repeating it finds nothing.
 */
async function retireWebhookEndpoints(
  deps: ProvisioningDeps,
  env: EnvironmentRow,
  actorKeyId: string,
): Promise<{ endpointsDeleted: number; deliveriesStopped: number }> {
  return deps.db.transaction(async (tx) => {
    const now = new Date();
    const deleted = await tx
      .update(webhookEndpoints)
      .set({ deletedAt: now, updatedAt: now })
      .where(and(eq(webhookEndpoints.environmentId, env.id), isNull(webhookEndpoints.deletedAt)))
      .returning({ id: webhookEndpoints.id });
    const stopped = await tx
      .update(webhookDeliveries)
      .set({ status: 'failed', completedAt: now })
      .where(
        and(
          eq(webhookDeliveries.environmentId, env.id),
          inArray(webhookDeliveries.status, ['queued', 'delivering']),
        ),
      )
      .returning({ id: webhookDeliveries.id, endpointId: webhookDeliveries.endpointId });
    for (const { id } of deleted)
      await audit(tx, {
        actorKeyId,
        action: 'webhook_endpoint.deleted',
        organizationId: env.organizationId,
        environmentId: env.id,
        target: id,
        details: {
          reason: 'environment retired',
          deliveriesStopped: stopped.filter((delivery) => delivery.endpointId === id).length,
        },
      });
    return { endpointsDeleted: deleted.length, deliveriesStopped: stopped.length };
  });
}

/**
 * Retires an environment: its keys stop working, its worker stops (hosts run active environments
 * only), its running runs are canceled, its objects and bucket are deleted, its KMS key is disabled
 * and scheduled for deletion, its data-plane role, namespace and payload data key are deleted. Each step tolerates
 * what an earlier attempt already destroyed, so repeating the request resumes it.
 */
export async function retireEnvironment(
  deps: ProvisioningDeps,
  env: EnvironmentRow,
  orgSlug: string,
  actorKeyId: string,
): Promise<RetirementReceipt> {
  const retiring = new Date();
  await deps.db
    .update(environments)
    .set({ status: 'retiring', updatedAt: retiring })
    .where(eq(environments.id, env.id));
  // Its region host sees it is no longer active, stops its worker and confirms, meanwhile.
  const released = awaitWorkerRelease(deps.db, env.id, retiring);
  // Awaited once the other steps are done; a failure meanwhile is not an unhandled rejection.
  released.catch(() => undefined);
  const revoked = await deps.db
    .update(apiKeys)
    .set({ revokedAt: new Date() })
    .where(and(eq(apiKeys.environmentId, env.id), isNull(apiKeys.revokedAt)))
    .returning({ id: apiKeys.id });
  // Its schedules go before its runs are canceled: none fires during the retirement, and what they
  // started is recorded and canceled with the other runs.
  const schedulesDeleted = await retireSchedules(deps, env, actorKeyId);
  // Its webhook endpoints go with it; their delivery workflows end with its namespace.
  const webhooks = await retireWebhookEndpoints(deps, env, actorKeyId);
  const running = await deps.db
    .select()
    .from(runs)
    .where(and(eq(runs.environmentId, env.id), eq(runs.status, 'running')));
  for (const run of running) {
    await deps.temporal
      .inNamespace(env.namespace, 'write', (client) => client.workflow.getHandle(run.workflowId).cancel())
      .catch(() => undefined);
    await deps.db
      .update(runs)
      .set({ status: 'canceled', failure: 'environment retired', closedAt: new Date() })
      .where(eq(runs.id, run.id));
  }
  // The sweeps that finished before retirement keep their receipts: collected before the
  // namespace, which holds their results, is deleted (a resumed retirement may find it gone).
  await collectSweepReceipts(deps, env).catch(() => undefined);
  // An environment whose account was never made ready (the factory stopped midway) has no bucket,
  // key or data-plane role of Tavio's to delete; an account AWS made for it after all is left to
  // the operator, as the README says.
  const accountId = readyAccountId(env.awsAccountId);
  const aws = accountId ? await deps.accounts.clients(accountId, env.awsRegion) : undefined;
  const deletingAt = new Date().toISOString();
  const tallies = new Map<string, PrefixSweep>();
  const policyVersion = (await currentPolicy(deps.db, env.id)).version;
  /**
   * Recorded at once, and when the deletion fails midway too: no later failure loses the proof
   * of what was deleted. An attempt that deleted nothing records nothing.
   */
  const recordDeleted = async (complete: boolean) => {
    const prefixes = [...tallies.values()].map((tally) => ({ ...tally, complete }));
    const values = receiptValues(env.id, 'retirement', `retirement:${env.id}:${deletingAt}`, {
      policyVersion,
      startedAt: deletingAt,
      finishedAt: new Date().toISOString(),
      prefixes,
    });
    if (values.objectsDeleted > 0) await deps.db.insert(deletionReceipts).values(values);
    return values;
  };
  if (aws)
    await destroyBucket(aws, env.bucket, tallies).catch(async (error: unknown) => {
      await recordDeleted(false);
      throw error;
    });
  const deleted = await recordDeleted(true);
  const prefixes = deleted.prefixes;
  const keyDeletionDate =
    aws && env.keyArn ? await destroyKey(aws, env.keyArn, keyAliasOf(orgSlug, env.slug)) : null;
  if (aws) await destroyDataplaneRole(aws);
  await deps.temporal.namespaces.remove(env.namespace);
  await deps.payloadKeys.destroy(env.id);
  // A connection pair's mappings go with its connections (they reference them).
  await deps.db.delete(fieldMappings).where(eq(fieldMappings.environmentId, env.id));
  const connectionsDeleted = await deps.db
    .delete(connections)
    .where(eq(connections.environmentId, env.id))
    .returning({ id: connections.id });
  const worker = await released;
  const receipt: RetirementReceipt = {
    namespace: env.namespace,
    bucket: env.bucket,
    objectsDeleted: deleted.objectsDeleted,
    bytesDeleted: deleted.bytesDeleted,
    prefixes,
    keyArn: env.keyArn,
    keyDisabled: aws !== undefined && env.keyArn !== null,
    keyDeletionDate,
    dataplaneRoleDeleted: aws !== undefined,
    payloadKeyDestroyed: true,
    apiKeysRevoked: revoked.length,
    runsCanceled: running.length,
    schedulesDeleted,
    webhookEndpointsDeleted: webhooks.endpointsDeleted,
    webhookDeliveriesStopped: webhooks.deliveriesStopped,
    connectionsDeleted: connectionsDeleted.length,
    worker: worker ? { confirmed: true, ...worker } : { confirmed: false },
    retiredAt: new Date().toISOString(),
  };
  await deps.db
    .update(environments)
    .set({ status: 'retired', statusReason: null, updatedAt: new Date() })
    .where(eq(environments.id, env.id));
  await audit(deps.db, {
    actorKeyId,
    action: 'environment.retired',
    organizationId: env.organizationId,
    environmentId: env.id,
    target: env.namespace,
    details: { ...receipt },
  });
  return receipt;
}
