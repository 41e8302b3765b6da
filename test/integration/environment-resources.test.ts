import { DecryptCommand, DescribeKeyCommand } from '@aws-sdk/client-kms';
import {
  GetBucketEncryptionCommand,
  GetBucketLocationCommand,
  GetObjectCommand,
  GetPublicAccessBlockCommand,
  ListObjectsV2Command,
} from '@aws-sdk/client-s3';
import { Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { credentialsContext, credentialsObjectKey } from '../../common/names.js';
import type { EnvScenario } from '../support/scenario.js';
import { newEnvironment } from '../support/scenario.js';
import { clientsAs, refusal } from '../support/aws.js';

describe("an environment's own resources, in its region", () => {
  let eu: EnvScenario;
  let ca: EnvScenario;
  let sibling: EnvScenario;

  beforeAll(async () => {
    eu = await newEnvironment('eu', { employees: 10 });
    sibling = await newEnvironment('eu', { org: eu, employees: 10 });
    ca = await newEnvironment('ca', { employees: 10 });
  });
  afterAll(async () => {
    await Promise.all([eu, ca, sibling].map((s) => s.close()));
  });

  it('has a private bucket in its AWS region, encrypted by default under its own KMS key', async () => {
    const { s3, kms } = await clientsAs(eu.environment, 'tavio-provisioner');
    const bucket = eu.environment.bucket;
    expect((await s3.send(new GetBucketLocationCommand({ Bucket: bucket }))).LocationConstraint).toBe(
      'eu-central-1',
    );
    const rule = (await s3.send(new GetBucketEncryptionCommand({ Bucket: bucket })))
      .ServerSideEncryptionConfiguration?.Rules?.[0];
    expect(rule?.ApplyServerSideEncryptionByDefault).toEqual({
      SSEAlgorithm: 'aws:kms',
      KMSMasterKeyID: eu.environment.keyArn,
    });
    expect(
      (await s3.send(new GetPublicAccessBlockCommand({ Bucket: bucket }))).PublicAccessBlockConfiguration,
    ).toEqual({
      BlockPublicAcls: true,
      IgnorePublicAcls: true,
      BlockPublicPolicy: true,
      RestrictPublicBuckets: true,
    });
    const key = await kms.send(new DescribeKeyCommand({ KeyId: `alias/tavio/${eu.org}/${eu.env}` }));
    expect(key.KeyMetadata?.Arn).toBe(eu.environment.keyArn);
    expect(key.KeyMetadata?.Arn).toMatch(
      new RegExp(`^arn:aws:kms:eu-central-1:${eu.environment.awsAccountId}:key/`),
    );
  });

  it('keeps its account, bucket, key and namespace apart from its sibling', () => {
    for (const field of ['awsAccountId', 'bucket', 'keyArn', 'namespace'] as const) {
      expect(eu.environment[field]).not.toBe(sibling.environment[field]);
    }
    expect(ca.environment.keyArn).toMatch(/^arn:aws:kms:ca-central-1:/);
  });

  it('has its namespace with the Tavio search attributes', async () => {
    const connection = await Connection.connect({ address: inject('stack').temporalAddress });
    try {
      const attributes = await connection.operatorService.listSearchAttributes({
        namespace: eu.environment.namespace,
      });
      expect(Object.keys(attributes.customAttributes ?? {})).toEqual(
        expect.arrayContaining(['TavioOrganization', 'TavioEnvironment', 'TavioRegion', 'TavioIntegration']),
      );
    } finally {
      await connection.close();
    }
  });

  it('stores connection credentials sealed under its key, bound to the connection', async () => {
    const { s3, kms } = await clientsAs(eu.environment, 'tavio-dataplane');
    const object = await s3.send(
      new GetObjectCommand({
        Bucket: eu.environment.bucket,
        Key: credentialsObjectKey(eu.sourceConnectionId),
      }),
    );
    const sealed = await object.Body!.transformToByteArray();
    expect(Buffer.from(sealed).toString('latin1')).not.toContain('apiKey');
    const context = credentialsContext(eu.org, eu.env, eu.sourceConnectionId);
    const opened = await kms.send(
      new DecryptCommand({
        CiphertextBlob: sealed,
        KeyId: eu.environment.keyArn!,
        EncryptionContext: context,
      }),
    );
    const record = JSON.parse(Buffer.from(opened.Plaintext!).toString('utf8')) as {
      host: string;
      secrets: object;
    };
    expect(record.host).toBe(new URL(eu.source.url).host);
    expect(Object.keys(record.secrets)).toEqual(['apiKey']);
    // Bound to its connection: the same blob under another connection's context does not open.
    expect(
      await refusal(
        kms.send(
          new DecryptCommand({
            CiphertextBlob: sealed,
            EncryptionContext: { ...context, connection: eu.destinationConnectionId },
          }),
        ),
      ),
    ).toMatchObject({ status: 400 });
  });

  it.each([
    ['a sibling environment of the same organization', () => [eu, sibling] as const],
    ['another organization, in another region', () => [eu, ca] as const],
  ])("refuses its worker's credentials on the bucket, objects and key of %s", async (_name, pair) => {
    const [own, other] = pair();
    const { s3, kms } = await clientsAs(own.environment, 'tavio-dataplane');
    const otherClients = await clientsAs(other.environment, 'tavio-dataplane');
    const sealed = await (
      await otherClients.s3.send(
        new GetObjectCommand({
          Bucket: other.environment.bucket,
          Key: credentialsObjectKey(other.sourceConnectionId),
        }),
      )
    ).Body!.transformToByteArray();
    expect(
      await refusal(s3.send(new ListObjectsV2Command({ Bucket: other.environment.bucket }))),
    ).toMatchObject({ status: 403, name: 'AccessDenied' });
    expect(
      await refusal(
        s3.send(
          new GetObjectCommand({
            Bucket: other.environment.bucket,
            Key: credentialsObjectKey(other.sourceConnectionId),
          }),
        ),
      ),
    ).toMatchObject({ status: 403, name: 'AccessDenied' });
    const decrypt = await refusal(
      kms.send(
        new DecryptCommand({
          CiphertextBlob: sealed,
          EncryptionContext: credentialsContext(other.org, other.env, other.sourceConnectionId),
        }),
      ),
    );
    // The key service refuses a ciphertext sealed under another account's key.
    expect(decrypt).toMatchObject({ status: 400, name: 'AccessDeniedException' });
    expect(
      await refusal(kms.send(new DescribeKeyCommand({ KeyId: other.environment.keyArn! }))),
    ).toMatchObject({ status: 400, name: 'NotFoundException' });
  });
});
