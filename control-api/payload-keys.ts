import { KMS } from '@aws-sdk/client-kms';
import { eq } from 'drizzle-orm';
import { tolerating } from '../common/aws-errors.js';
import type { PayloadDataKey, PayloadKeyRing } from '../common/payload-encryption.js';
import type { Database } from '../db/client.js';
import { environments, payloadKeys } from '../db/schema.js';

/** The control plane's KMS key that wraps payload data keys, one per AWS region of its own account. */
export const PAYLOAD_KEY_ALIAS = 'alias/tavio/temporal-payloads';
const CACHE_MS = 10 * 60_000;

type Env = Pick<typeof environments.$inferSelect, 'id' | 'awsRegion'>;

const contextOf = (environmentId: string) => ({ purpose: 'temporal-payloads', environment: environmentId });

/**
 * Payload data keys: one per environment, generated and wrapped by KMS in the environment's
 * region, its plaintext held in memory for a bounded time only. The control plane seals and opens
 * payloads with it (run inputs and results); the environment's worker gets it from its host.
 */
export function createPayloadKeys(options: {
  db: Database;
  endpointFor: (awsRegion: string) => string | undefined;
  credentials?: { accessKeyId: string; secretAccessKey: string };
}) {
  const { db } = options;
  const clients = new Map<string, KMS>();
  const plain = new Map<string, { key: Promise<PayloadDataKey | undefined>; until: number }>();

  function kms(awsRegion: string): KMS {
    let client = clients.get(awsRegion);
    if (!client) {
      client = new KMS({
        region: awsRegion,
        endpoint: options.endpointFor(awsRegion),
        credentials: options.credentials,
      });
      clients.set(awsRegion, client);
    }
    return client;
  }

  async function wrappingKey(awsRegion: string): Promise<string> {
    const described = await tolerating(
      () => kms(awsRegion).describeKey({ KeyId: PAYLOAD_KEY_ALIAS }),
      ['NotFoundException'],
    );
    if (described?.KeyMetadata?.Arn) return described.KeyMetadata.Arn;
    const created = await kms(awsRegion).createKey({
      Description: 'Tavio: wraps Temporal payload data keys',
    });
    const arn = created.KeyMetadata!.Arn!;
    const aliased = await tolerating(
      () => kms(awsRegion).createAlias({ AliasName: PAYLOAD_KEY_ALIAS, TargetKeyId: arn }),
      ['AlreadyExistsException'],
    );
    // Another process created the alias first: use its key.
    return aliased === null ? wrappingKey(awsRegion) : arn;
  }

  async function unwrap(row: typeof payloadKeys.$inferSelect, awsRegion: string): Promise<PayloadDataKey> {
    const answer = await kms(awsRegion).decrypt({
      KeyId: row.kmsKeyArn,
      CiphertextBlob: Buffer.from(row.wrappedKey, 'base64'),
      EncryptionContext: contextOf(row.environmentId),
    });
    return { id: row.id, key: answer.Plaintext! };
  }

  /** Creates the environment's data key once; safe to call again. */
  async function ensure(env: Env): Promise<void> {
    const [existing] = await db.select().from(payloadKeys).where(eq(payloadKeys.environmentId, env.id));
    if (existing) return;
    const kmsKeyArn = await wrappingKey(env.awsRegion);
    const generated = await kms(env.awsRegion).generateDataKey({
      KeyId: kmsKeyArn,
      KeySpec: 'AES_256',
      EncryptionContext: contextOf(env.id),
    });
    await db
      .insert(payloadKeys)
      .values({
        environmentId: env.id,
        kmsKeyArn,
        wrappedKey: Buffer.from(generated.CiphertextBlob!).toString('base64'),
      })
      .onConflictDoNothing();
  }

  /**
   * The data key of the environment `where` selects. An active environment provisioned before
   * payloads were sealed gets its key here; a retired one never gets one back.
   */
  async function load(where: ReturnType<typeof eq>): Promise<PayloadDataKey | undefined> {
    const [env] = await db.select().from(environments).where(where);
    if (!env) return undefined;
    if (env.status === 'active') await ensure(env);
    const [row] = await db.select().from(payloadKeys).where(eq(payloadKeys.environmentId, env.id));
    return row ? unwrap(row, env.awsRegion) : undefined;
  }

  /** The environment's data key, from memory while the cache holds it. */
  function cached(cacheKey: string, where: ReturnType<typeof eq>): Promise<PayloadDataKey | undefined> {
    const held = plain.get(cacheKey);
    if (held && held.until > Date.now()) return held.key;
    const loading = load(where);
    plain.set(cacheKey, { key: loading, until: Date.now() + CACHE_MS });
    // A failure (KMS unreachable, a wrapping key gone) is not cached, and reaches the caller.
    loading.then(
      (key) => key ?? plain.delete(cacheKey),
      () => plain.delete(cacheKey),
    );
    return loading;
  }

  return {
    ensure,

    /** The data key of an environment, for its worker (through its region's host). */
    async ofEnvironment(environmentId: string): Promise<PayloadDataKey | undefined> {
      return cached(`environment ${environmentId}`, eq(environments.id, environmentId));
    },

    /** The key ring of a namespace: what the control plane's clients and the codec endpoint use. */
    ringOf(namespace: string): PayloadKeyRing {
      const key = () => cached(`namespace ${namespace}`, eq(environments.namespace, namespace));
      return {
        async current() {
          const found = await key();
          if (!found) throw new Error(`namespace ${namespace} has no payload key`);
          return found;
        },
        byId: async (id) => {
          const found = await key();
          return found?.id === id ? found : undefined;
        },
      };
    },

    /** Destroys an environment's data key: its Temporal payloads can no longer be opened by anyone. */
    async destroy(environmentId: string): Promise<boolean> {
      const deleted = await db
        .delete(payloadKeys)
        .where(eq(payloadKeys.environmentId, environmentId))
        .returning();
      for (const cacheKey of [...plain.keys()]) plain.delete(cacheKey);
      return deleted.length > 0;
    },

    close(): void {
      for (const client of clients.values()) client.destroy();
    },
  };
}
export type PayloadKeys = ReturnType<typeof createPayloadKeys>;
