import type { SealedConnection } from '../common/names.js';
import { createSealedStore } from '../common/sealed-objects.js';
import type { SealScope } from '../common/sealed-objects.js';
import type { AccountAccess } from './provisioning/account-access.js';
import type { environments } from '../db/schema.js';
import { environmentNotActive } from './problems.js';

export interface SealTarget extends SealScope {
  awsAccountId: string;
  awsRegion: string;
  bucket: string;
}

/**
 * Where an environment seals what the control plane writes for it (connection credentials, webhook
 * secrets): it takes them only while active, with its key; 409 otherwise.
 */
export function sealTargetOf(orgSlug: string, env: typeof environments.$inferSelect): SealTarget {
  if (env.status !== 'active' || !env.keyArn) throw environmentNotActive(orgSlug, env);
  return {
    organization: orgSlug,
    environment: env.slug,
    region: env.region,
    awsAccountId: env.awsAccountId,
    awsRegion: env.awsRegion,
    bucket: env.bucket,
    keyArn: env.keyArn,
  };
}

/**
 * Writes (or overwrites, on rotation) a connection's credentials for its environment: sealed under
 * the environment's key, bound to organization, environment, region and the object, stored under
 * `credentials/` in the environment's bucket. The control plane only ever writes them.
 */
export async function sealCredentials(
  accounts: AccountAccess,
  target: SealTarget,
  connectionId: string,
  baseUrl: string,
  secrets: Record<string, string>,
): Promise<string> {
  const aws = await accounts.clients(target.awsAccountId, target.awsRegion);
  const store = createSealedStore({ s3: aws.s3, kms: aws.kms, bucket: target.bucket, scope: target });
  // The host is sealed with the secrets: a worker reaches only the host its connection was made for.
  const sealed: SealedConnection = { host: new URL(baseUrl).host, secrets };
  return store.put('credentials', connectionId, Buffer.from(JSON.stringify(sealed), 'utf8'));
}
