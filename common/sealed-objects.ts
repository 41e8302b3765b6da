import {
  AlgorithmSuiteIdentifier,
  buildClient,
  CommitmentPolicy,
  KeyringNode,
  KmsKeyringNode,
} from '@aws-crypto/client-node';
import type {
  EncryptedDataKey,
  NodeDecryptionMaterial,
  NodeEncryptionMaterial,
} from '@aws-crypto/client-node';
import type { KMS } from '@aws-sdk/client-kms';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import type { S3Client } from '@aws-sdk/client-s3';

/**
 * Everything Tavio stores in an environment's bucket is a sealed object: an AWS Encryption SDK
 * message whose data key is wrapped by the environment's KMS key. The message header records the
 * wrapping key's ARN and an encryption context binding organization, environment, region and the
 * object's own key, so a sealed object can be checked without opening it.
 * The bucket's SSE-KMS default encrypts it a second time at rest.
 */

/**
 * What an environment's bucket holds, one prefix per purpose. `state` is small metadata that
 * outlives runs (incremental syncs' high-water marks): like `credentials`, never swept by retention.
 */
export const OBJECT_PURPOSES = ['tmp', 'files', 'quarantine', 'logs', 'credentials', 'state'] as const;
export type ObjectPurpose = (typeof OBJECT_PURPOSES)[number];

const SEGMENT = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export class SealedObjectError extends Error {
  constructor(
    readonly type: 'InvalidObjectName' | 'SealedContextMismatch',
    message: string,
  ) {
    super(message);
    this.name = type;
  }
}

/** The object key of `name` under a purpose's prefix; names are path segments, never `..` or empty. */
export function objectKeyOf(purpose: ObjectPurpose, name: string): string {
  const segments = name.split('/');
  if (!OBJECT_PURPOSES.includes(purpose) || !segments.every((s) => SEGMENT.test(s) && s !== '..')) {
    throw new SealedObjectError(
      'InvalidObjectName',
      `object name ${JSON.stringify(name)} under ${purpose}/ is not allowed`,
    );
  }
  return `${purpose}/${name}`;
}

/** Whose objects these are: the environment that owns the bucket and the key. */
export interface SealScope {
  organization: string;
  environment: string;
  region: string;
  keyArn: string;
}

/** The encryption context of one object: it names its owner and its own location. */
export function sealContext(scope: SealScope, objectKey: string): Record<string, string> {
  return {
    organization: scope.organization,
    environment: scope.environment,
    region: scope.region,
    object: objectKey,
  };
}

/**
 * A keyring that refuses, before any KMS call, a message whose encryption context is not exactly
 * the expected one: an object of another environment, or moved from another key, is never decrypted.
 */
class BoundKeyring extends KeyringNode {
  constructor(
    private readonly inner: KmsKeyringNode,
    private readonly expected: Record<string, string>,
  ) {
    super();
  }

  async _onEncrypt(material: NodeEncryptionMaterial): Promise<NodeEncryptionMaterial> {
    return this.inner.onEncrypt(material);
  }

  async _onDecrypt(
    material: NodeDecryptionMaterial,
    encryptedDataKeys: EncryptedDataKey[],
  ): Promise<NodeDecryptionMaterial> {
    const found = material.encryptionContext;
    // The SDK adds its own `aws-crypto-*` entries (the signing key); every other entry must match.
    const ours = Object.keys(found).filter((name) => !name.startsWith('aws-crypto-'));
    const wrong = [...new Set([...ours, ...Object.keys(this.expected)])].filter(
      (name) => found[name] !== this.expected[name],
    );
    if (wrong.length > 0) {
      throw new SealedObjectError(
        'SealedContextMismatch',
        // Names the fields only: the header's values come from whoever wrote the object.
        `sealed object ${this.expected.object} was sealed for another place (${wrong.join(', ')} differ); it was not decrypted`,
      );
    }
    return this.inner.onDecrypt(material, encryptedDataKeys);
  }
}

const { encrypt, decrypt } = buildClient({
  commitmentPolicy: CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT,
  maxEncryptedDataKeys: 1,
});

/**
 * Plaintext bytes per frame of a message. The SDK's default of 4 KiB costs a cipher per 4 KiB: an
 * 8 MiB part of a buffered file took five times as long to seal. Messages record their frame
 * length, so those sealed with another one open as before.
 */
const FRAME_BYTES = 64 * 1024;

/**
 * AES-256-GCM with key commitment, without the default suite's ECDSA signature. A signature's
 * verification key travels in the message itself: it tells that nobody altered a message after it
 * was sealed, which the GCM tag already does for anyone who cannot ask KMS for data keys under
 * this context, and it proves nothing against anyone who can (only the environment's own roles).
 * Signing and verifying cost more than the encryption itself on large files. Messages sealed with
 * the signing suite open as before.
 */
const SUITE = AlgorithmSuiteIdentifier.ALG_AES256_GCM_IV12_TAG16_HKDF_SHA512_COMMIT_KEY;

/** Sealed objects of one environment, read and written with the caller's own S3 and KMS clients. */
export function createSealedStore(options: { s3: S3Client; kms: KMS; bucket: string; scope: SealScope }) {
  const { s3, kms, bucket, scope } = options;
  /** The context of `objectKey`, with entries of its own (a file's run and part) when it has them. */
  const contextOf = (objectKey: string, extra: Record<string, string> = {}) => ({
    ...extra,
    ...sealContext(scope, objectKey),
  });
  const keyringFor = (objectKey: string, extra?: Record<string, string>) =>
    new BoundKeyring(
      new KmsKeyringNode({ generatorKeyId: scope.keyArn, clientProvider: () => kms }),
      contextOf(objectKey, extra),
    );

  /** One Encryption SDK message of `plaintext`, bound to `objectKey` and the `extra` context. */
  async function seal(objectKey: string, plaintext: Uint8Array, extra?: Record<string, string>) {
    const { result } = await encrypt(keyringFor(objectKey, extra), plaintext, {
      encryptionContext: contextOf(objectKey, extra),
      frameLength: FRAME_BYTES,
      suiteId: SUITE,
    });
    return result;
  }

  /** Opens a message sealed by `seal` for the same object and context; refuses any other without decrypting. */
  async function unseal(objectKey: string, sealed: Uint8Array, extra?: Record<string, string>) {
    const { plaintext } = await decrypt(keyringFor(objectKey, extra), sealed);
    return plaintext;
  }

  return {
    seal,
    unseal,

    /** Seals `plaintext` (with the `extra` context, if any) and writes it; returns the object key. */
    async put(
      purpose: ObjectPurpose,
      name: string,
      plaintext: Uint8Array,
      options: {
        extra?: Record<string, string>;
        abortSignal?: AbortSignal;
        /** Writes only over the object of this ETag, or only where there is none (`*`): S3 answers 412 otherwise. */
        ifMatch?: string;
        ifNoneMatch?: '*';
      } = {},
    ): Promise<string> {
      const key = objectKeyOf(purpose, name);
      await s3.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: key,
          Body: await seal(key, plaintext, options.extra),
          ContentType: 'application/vnd.aws.encryption-sdk',
          ServerSideEncryption: 'aws:kms',
          SSEKMSKeyId: scope.keyArn,
          IfMatch: options.ifMatch,
          IfNoneMatch: options.ifNoneMatch,
        }),
        { abortSignal: options.abortSignal },
      );
      return key;
    },

    /** Opens the sealed bytes of the object at `purpose/name`; refuses bytes sealed for another place without decrypting them. */
    open(purpose: ObjectPurpose, name: string, sealed: Uint8Array): Promise<Buffer> {
      return unseal(objectKeyOf(purpose, name), sealed);
    },

    /** Reads and opens an object. */
    async get(purpose: ObjectPurpose, name: string): Promise<Buffer> {
      const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: objectKeyOf(purpose, name) }));
      return this.open(purpose, name, await object.Body!.transformToByteArray());
    },

    /** Reads and opens an object, with its ETag: the condition of a write that must not overwrite a newer one. */
    async getTagged(purpose: ObjectPurpose, name: string): Promise<{ plaintext: Buffer; etag: string }> {
      const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: objectKeyOf(purpose, name) }));
      const plaintext = await this.open(purpose, name, await object.Body!.transformToByteArray());
      return { plaintext, etag: object.ETag ?? '' };
    },
  };
}
export type SealedStore = ReturnType<typeof createSealedStore>;
