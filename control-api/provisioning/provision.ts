import { and, eq, inArray, lt, or } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { environments } from '../../db/schema.js';
import { hostRoleArn } from '../../common/names.js';
import type { RegionRegistry } from '../../common/regions.js';
import { audit } from '../audit.js';
import type { PayloadKeys } from '../payload-keys.js';
import type { TemporalClients } from '../temporal-clients.js';
import type { AccountAccess } from './account-access.js';
import { ensureBucket, ensureDataplaneRole, ensureKey } from './aws-resources.js';
import { applyRetention } from '../retention/apply.js';
import { currentPolicy } from '../retention/policy.js';

type EnvironmentRow = typeof environments.$inferSelect;

export interface ProvisioningDeps {
  db: Database;
  temporal: TemporalClients;
  payloadKeys: PayloadKeys;
  accounts: AccountAccess;
  regions: RegionRegistry;
  controlAccountId: string;
}

/** A provisioning that has saved nothing for this long is taken over by the next request. */
export const PROVISIONING_LEASE_MS = 5 * 60_000;

class StepFailed extends Error {
  constructor(
    readonly step: string,
    cause: unknown,
  ) {
    const reason = cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause);
    super(`${step} failed: ${reason}`, { cause });
  }
}

async function step<T>(name: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    throw new StepFailed(name, error);
  }
}

/** Waits for every task; then answers their values, or throws the first failure in their order. */
async function allSettledOrFirstFailure<T extends readonly unknown[]>(
  tasks: readonly [...{ [K in keyof T]: Promise<T[K]> }],
): Promise<T> {
  const settled = await Promise.allSettled(tasks);
  const failed = settled.find((result): result is PromiseRejectedResult => result.status === 'rejected');
  if (failed) throw failed.reason;
  return settled.map((result) => (result as PromiseFulfilledResult<unknown>).value) as unknown as T;
}

/**
 * Creates everything an environment owns, in its region: namespace, key, bucket, data-plane role.
 * Each step is idempotent and its result recorded, so a failed attempt leaves status `failed` with a
 * reason and the next attempt resumes where it stopped.
 */
export async function provisionEnvironment(
  deps: ProvisioningDeps,
  env: EnvironmentRow,
  orgSlug: string,
  actorKeyId: string,
  /** The row was just inserted by this request, which provisions it. */
  fresh: boolean,
) {
  const identity = {
    organization: orgSlug,
    environment: env.slug,
    region: env.region,
    awsRegion: env.awsRegion,
  };
  const region = deps.regions[env.region];
  /**
   * Saves `values`; a change of status only from a status provisioning may leave (a retirement
   * that began meanwhile is never undone). Answers the row, changed or as it stands.
   */
  const save = async (values: Partial<EnvironmentRow>) => {
    const [row] = await deps.db
      .update(environments)
      .set({ ...values, updatedAt: new Date() })
      .where(
        and(
          eq(environments.id, env.id),
          values.status ? inArray(environments.status, ['provisioning', 'failed']) : undefined,
        ),
      )
      .returning();
    if (row) return row;
    const [current] = await deps.db.select().from(environments).where(eq(environments.id, env.id));
    return current!;
  };
  // One request provisions at a time: the one that inserted the row, or one that takes over a
  // failed provisioning, or one that saved nothing for the lease. Any other answers the row as is.
  const [claimed] = await deps.db
    .update(environments)
    .set({ status: 'provisioning', statusReason: null, updatedAt: new Date() })
    .where(
      and(
        eq(environments.id, env.id),
        fresh
          ? eq(environments.status, 'provisioning')
          : or(
              eq(environments.status, 'failed'),
              and(
                eq(environments.status, 'provisioning'),
                lt(environments.updatedAt, new Date(Date.now() - PROVISIONING_LEASE_MS)),
              ),
            ),
      ),
    )
    .returning();
  if (!claimed) return (await deps.db.select().from(environments).where(eq(environments.id, env.id)))[0]!;
  try {
    // Temporal, the payload key and the AWS resources do not depend on each other: they are made
    // side by side, and every one of them settles before a failure is recorded.
    const temporal = async () => {
      if (!env.namespaceRegisteredAt) {
        const registeredAt = await step('temporal namespace', () =>
          deps.temporal.namespaces.register({
            namespace: env.namespace,
            environmentId: env.id,
            region: region.code,
          }),
        );
        await save({ namespaceRegisteredAt: registeredAt });
      }
      await step('temporal search attributes', () =>
        deps.temporal.namespaces.ensureSearchAttributes(env.namespace),
      );
    };
    const awsResources = async () => {
      // The account first: the factory may still have to make it, recording each stage in the row.
      const accountId = await step('account', () =>
        deps.accounts.ensureAccount(
          { ...identity, environmentId: env.id, record: env.awsAccountId },
          async (value) => void (await save({ awsAccountId: value })),
        ),
      );
      const inAccount = { ...identity, accountId };
      const aws = await step('account access', () => deps.accounts.clients(accountId, env.awsRegion));
      const keyArn = env.keyArn ?? (await step('kms key', () => ensureKey(aws, inAccount)));
      if (!env.keyArn) await save({ keyArn });
      // The role names the bucket, not its key: both are made at once.
      const [, roleArn] = await Promise.all([
        step('bucket', () => ensureBucket(aws, inAccount, env.bucket, keyArn)),
        step('data-plane role', () =>
          ensureDataplaneRole(
            aws,
            inAccount,
            env.bucket,
            region.gateway,
            hostRoleArn(deps.controlAccountId, region.gateway),
          ),
        ),
      ]);
      return { keyArn, roleArn, accountId };
    };
    const [, , made] = await allSettledOrFirstFailure([
      temporal(),
      step('payload key', () => deps.payloadKeys.ensure(env)),
      awsResources(),
    ] as const);
    const { keyArn, roleArn: dataplaneRoleArn, accountId } = made;
    await step('retention policy', async () =>
      applyRetention(
        deps,
        { ...env, keyArn, awsAccountId: accountId },
        orgSlug,
        await currentPolicy(deps.db, env.id),
      ),
    );
    const row = await save({ dataplaneRoleArn, status: 'active' });
    await audit(deps.db, {
      actorKeyId,
      action: 'environment.provisioned',
      organizationId: env.organizationId,
      environmentId: env.id,
      target: env.namespace,
      details: {
        region: env.region,
        awsRegion: env.awsRegion,
        bucket: env.bucket,
        keyArn,
        accountId,
      },
    });
    return row;
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    const row = await save({ status: 'failed', statusReason: reason.slice(0, 500) });
    await audit(deps.db, {
      actorKeyId,
      action: 'environment.provisioning_failed',
      organizationId: env.organizationId,
      environmentId: env.id,
      target: env.namespace,
      details: { step: error instanceof StepFailed ? error.step : 'unknown' },
    });
    return row;
  }
}
