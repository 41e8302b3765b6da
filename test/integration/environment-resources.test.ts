import { randomBytes } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { DescribeKeyCommand } from '@aws-sdk/client-kms';
import {
  GetBucketEncryptionCommand,
  GetBucketLocationCommand,
  GetObjectCommand,
  GetPublicAccessBlockCommand,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSealedStore, objectKeyOf } from '../../common/sealed-objects.js';
import type { EnvScenario } from '../support/scenario.js';
import { clientWithKey, newEnvironment, operatorClient } from '../support/scenario.js';
import { clientsAs } from '../support/aws.js';
import { testDatabase } from '../support/database.js';
import { systemConnection } from '../support/temporal.js';

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
    const connection = await systemConnection();
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

  it('stores connection credentials as sealed objects under its key, bound to org, environment, region and object', async () => {
    const { s3, kms } = await clientsAs(eu.environment, 'tavio-dataplane');
    const key = objectKeyOf('credentials', eu.sourceConnectionId);
    const object = await s3.send(new GetObjectCommand({ Bucket: eu.environment.bucket, Key: key }));
    expect(object.ServerSideEncryption).toBe('aws:kms');
    expect(object.SSEKMSKeyId).toBe(eu.environment.keyArn);
    const header = Buffer.from(await object.Body!.transformToByteArray()).toString('latin1');
    // The message header names its wrapping key and its context in the clear; the secret is not there.
    for (const recorded of [eu.environment.keyArn!, eu.org, eu.env, 'eu', key])
      expect(header).toContain(recorded);
    expect(header).not.toContain('apiKey');

    const scope = { organization: eu.org, environment: eu.env, region: 'eu', keyArn: eu.environment.keyArn! };
    const store = createSealedStore({ s3, kms, bucket: eu.environment.bucket, scope });
    const record = JSON.parse((await store.get('credentials', eu.sourceConnectionId)).toString('utf8')) as {
      host: string;
      secrets: object;
    };
    expect(record.host).toBe(new URL(eu.source.url).host);
    expect(Object.keys(record.secrets)).toEqual(['apiKey']);
  });
});

describe('environment names', () => {
  it('never collide across organizations whose slugs join alike, and a refusal names only the caller’s own', async () => {
    const stem = `c${randomBytes(3).toString('hex')}`;
    const operator = operatorClient();
    const x = await operator.createOrganization(stem);
    const xNs = await operator.createOrganization(`${stem}-ns`);
    const [xEnv, xNsEnv] = await Promise.all([
      clientWithKey(x.apiKey.key).createEnvironment(stem, 'ns-dev', 'us'),
      clientWithKey(xNs.apiKey.key).createEnvironment(`${stem}-ns`, 'dev', 'us'),
    ]);
    expect(xEnv.namespace).not.toBe(xNsEnv.namespace);
    for (const environment of [xEnv, xNsEnv]) {
      expect(environment.status).toBe('active');
      expect(environment.namespace).toBe(`${stem}-ns-dev-${environment.id.slice(0, 8)}`);
      expect(environment.namespace.length).toBeLessThanOrEqual(39);
    }
    const again = await clientWithKey(x.apiKey.key)
      .createEnvironment(stem, 'ns-dev', 'us')
      .catch((error: unknown) => error);
    expect(again).toMatchObject({
      problem: { status: 409, type: 'https://tavio.dev/problems/duplicate-slug' },
    });
    expect(JSON.stringify(again)).not.toContain(`${stem}-ns/`);
    const database = testDatabase();
    try {
      await database.db.execute(
        sql`update environments set status = 'retired' where id in (${xEnv.id}, ${xNsEnv.id})`,
      );
    } finally {
      await database.close();
    }
  });
});
