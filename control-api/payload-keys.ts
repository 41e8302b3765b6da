import { KMS } from '@aws-sdk/client-kms';
import { eq } from 'drizzle-orm';
import { tolerating } from '../common/aws-errors.js';
import type { PayloadDataKey, PayloadKeyRing } from '../common/payload-encryption.js';
import type { Database } from '../db/client.js';
import { environments, payloadKeys } from '../db/schema.js';
import { regionalClients } from './regional-clients.js';

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
  const clients = regionalClients(
    (awsRegion) =>
      new KMS({
        region: awsRegion,
        endpoint: options.endpointFor(awsRegion),
        credentials: options.credentials,
      }),
  );
  const plain = new Map<string, { key: Promise<PayloadDataKey | undefined>; until: number }>();

  const kms = (awsRegion: string): KMS => clients.of(awsRegion);

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

  type KeyRow = typeof payloadKeys.$inferSelect;
  const rowOf = async (environmentId: string): Promise<KeyRow | undefined> =>
    (await db.select().from(payloadKeys).where(eq(payloadKeys.environmentId, environmentId)))[0];

  /** The environment's wrapped data key, created the first time; safe to call again. */
  async function ensure(env: Env): Promise<KeyRow> {
    const existing = await rowOf(env.id);
    if (existing) return existing;
    const kmsKeyArn = await wrappingKey(env.awsRegion);
    const generated = await kms(env.awsRegion).generateDataKey({
      KeyId: kmsKeyArn,
      KeySpec: 'AES_256',
      EncryptionContext: contextOf(env.id),
    });
    const [inserted] = await db
      .insert(payloadKeys)
      .values({
        environmentId: env.id,
        kmsKeyArn,
        wrappedKey: Buffer.from(generated.CiphertextBlob!).toString('base64'),
      })
      .onConflictDoNothing()
      .returning();
    // Another process inserted first: its key is the environment's.
    return inserted ?? (await rowOf(env.id))!;
  }

  /**
   * The data key of an environment. An active environment provisioned before payloads were sealed
   * gets its key here; a retired one never gets one back.
   */
  async function load(environmentId: string): Promise<PayloadDataKey | undefined> {
    const [env] = await db.select().from(environments).where(eq(environments.id, environmentId));
    if (!env) return undefined;
    const row = env.status === 'active' ? await ensure(env) : await rowOf(env.id);
    return row ? unwrap(row, env.awsRegion) : undefined;
  }

  /** The environment's data key, from memory while the cache holds it. */
  function cached(environmentId: string): Promise<PayloadDataKey | undefined> {
    const held = plain.get(environmentId);
    if (held && held.until > Date.now()) return held.key;
    const loading = load(environmentId);
    plain.set(environmentId, { key: loading, until: Date.now() + CACHE_MS });
    // A failure (KMS unreachable, a wrapping key gone) is not cached, and reaches the caller.
    loading.then(
      (key) => key ?? plain.delete(environmentId),
      () => plain.delete(environmentId),
    );
    return loading;
  }

  /** A namespace's environment, looked up once: an environment's namespace never changes. */
  const environmentOf = new Map<string, string>();
  async function environmentIdOf(namespace: string): Promise<string | undefined> {
    if (!environmentOf.has(namespace)) {
      const [env] = await db
        .select({ id: environments.id })
        .from(environments)
        .where(eq(environments.namespace, namespace));
      if (!env) return undefined;
      environmentOf.set(namespace, env.id);
    }
    return environmentOf.get(namespace);
  }

  return {
    ensure: async (env: Env): Promise<void> => void (await ensure(env)),

    /** The data key of an environment, for its worker (through its region's host). */
    ofEnvironment: cached,

    /** The key ring of a namespace: what the control plane's clients and the codec endpoint use. */
    ringOf(namespace: string): PayloadKeyRing {
      const key = async () => {
        const environmentId = await environmentIdOf(namespace);
        return environmentId ? cached(environmentId) : undefined;
      };
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
    async destroy(environmentId: string): Promise<void> {
      await db.delete(payloadKeys).where(eq(payloadKeys.environmentId, environmentId));
      plain.delete(environmentId);
    },

    close(): void {
      clients.destroyAll();
    },
  };
}
export type PayloadKeys = ReturnType<typeof createPayloadKeys>;
