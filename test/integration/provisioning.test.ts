import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_CONTROL_ACCOUNT_ID } from '../../common/config.js';
import { createTavioClient } from '../../control-api/client.js';
import { generateKey, parseKey } from '../../control-api/keys.js';
import type { ControlApi } from '../../control-api/platform.js';
import { ownerDatabase, testDatabase } from '../support/database.js';
import { newOrganization, rawRequest } from '../support/scenario.js';
import { startOtherControlApi } from '../support/control-api.js';

describe('provisioning', () => {
  const database = testDatabase();
  let broken: ControlApi;
  let brokenKey: string;

  beforeAll(async () => {
    // A second control API whose S3/KMS endpoint answers nothing: provisioning fails midway.
    brokenKey = generateKey('operator').key;
    broken = await startOtherControlApi({
      TAVIO_AWS_ENDPOINT: 'http://127.0.0.1:9',
      TAVIO_OPERATOR_KEY: brokenKey,
      TAVIO_LOG_LEVEL: 'silent',
    });
  });
  afterAll(async () => {
    await broken.close();
    await database.close();
  });

  it('leaves a failed environment with a reason, and the same request resumes and completes it', async () => {
    const { org, admin, adminKey } = await newOrganization('resume');
    const viaBroken = createTavioClient({ baseUrl: broken.url, apiKey: adminKey });
    const failure = await viaBroken.createEnvironment(org, 'staging', 'ca').catch((error: unknown) => error);
    expect(failure).toMatchObject({
      problem: { status: 502, type: 'https://tavio.dev/problems/provisioning-failed' },
    });
    const failed = await admin.getEnvironment(org, 'staging');
    expect(failed.status).toBe('failed');
    // The first step that needs the S3/KMS service: the payload data key, under the control plane's KMS key.
    expect(failed.statusReason).toMatch(/^payload key failed: /);
    expect(failed.keyArn).toBeNull();

    const resumed = await admin.createEnvironment(org, 'staging', 'ca');
    expect(resumed).toMatchObject({
      id: failed.id,
      status: 'active',
      statusReason: null,
      region: 'ca',
      awsAccountId: failed.awsAccountId,
      bucket: failed.bucket,
    });
    expect(resumed.keyArn).toMatch(/^arn:aws:kms:ca-central-1:/);

    const actions = await database.db.execute<{ action: string }>(
      sql`select action from audit_log where environment_id = ${failed.id} order by id`,
    );
    expect(actions.map((row) => row.action)).toEqual([
      'environment.created',
      'environment.provisioning_failed',
      'environment.provisioned',
    ]);
    await database.db.execute(sql`update environments set status = 'retired' where id = ${failed.id}`);
  });

  it('retires an environment whose account was never made, deleting no AWS resource', async () => {
    // The account factory on AWS Organizations, with a control plane the organization refuses: the
    // environment fails at its account step, before any bucket, key or role exists.
    const operatorKey = generateKey('operator').key;
    const factoryApi = await startOtherControlApi({
      TAVIO_ACCOUNT_FACTORY: 'organizations',
      TAVIO_ACCOUNT_EMAIL_PATTERN: 'aws+{environmentId}@example.com',
      TAVIO_CONTROL_ACCOUNT_ID: DEFAULT_CONTROL_ACCOUNT_ID,
      TAVIO_OPERATOR_KEY: operatorKey,
      TAVIO_LOG_LEVEL: 'silent',
    });
    try {
      const { org, admin, adminKey } = await newOrganization('unmade');
      const viaFactory = createTavioClient({ baseUrl: factoryApi.url, apiKey: adminKey });
      const failure = await viaFactory.createEnvironment(org, 'prod', 'eu').catch((error: unknown) => error);
      expect(failure).toMatchObject({ problem: { status: 502 } });
      const failed = await admin.getEnvironment(org, 'prod');
      expect(failed.status).toBe('failed');
      expect(failed.awsAccountId).toMatch(/^unrequested:/);

      // While a provisioning holds its lease, retiring would race it: refused until it ends.
      await database.db.execute(
        sql`update environments set status = 'provisioning', updated_at = now() where id = ${failed.id}`,
      );
      await expect(admin.retireEnvironment(org, 'prod')).rejects.toMatchObject({
        problem: { status: 409, type: 'https://tavio.dev/problems/provisioning-in-progress' },
      });
      await database.db.execute(sql`update environments set status = 'failed' where id = ${failed.id}`);

      const answer = await admin.retireEnvironment(org, 'prod');
      expect(answer.environment.status).toBe('retired');
      expect(answer.receipt).toMatchObject({
        objectsDeleted: 0,
        keyArn: null,
        keyDisabled: false,
        dataplaneRoleDeleted: false,
      });
    } finally {
      await database.db.execute(
        sql`update api_keys set revoked_at = now() where prefix = ${parseKey(operatorKey)!.prefix}`,
      );
      await factoryApi.close();
    }
  });

  it('never lets the audit log be changed or emptied, not even by the owner of its table', async () => {
    // The control API's role has no such privilege (isolation suite, PostgreSQL rows); the triggers hold for everyone.
    const owner = ownerDatabase();
    try {
      const refusedBy = (op: string) => ({ cause: { message: `audit_log is append-only: ${op} refused` } });
      await expect(owner.db.execute(sql`update audit_log set action = 'rewritten'`)).rejects.toMatchObject(
        refusedBy('UPDATE'),
      );
      await expect(owner.db.execute(sql`delete from audit_log`)).rejects.toMatchObject(refusedBy('DELETE'));
      await expect(owner.db.execute(sql`truncate audit_log`)).rejects.toMatchObject(refusedBy('TRUNCATE'));
    } finally {
      await owner.close();
    }
  });

  it('stores API keys as hashes only, and records who used them when', async () => {
    const { org, adminKey } = await newOrganization('keys');
    await rawRequest('GET', `/v1/organizations/${org}`, { key: adminKey });
    const [row] = await database.db.execute<{
      prefix: string;
      secret_hash: string;
      last_used_at: Date | null;
    }>(
      sql`select prefix, secret_hash, last_used_at from api_keys where prefix = ${parseKey(adminKey)!.prefix}`,
    );
    expect(row?.secret_hash).toMatch(/^[0-9a-f]{64}$/);
    expect(row?.last_used_at).not.toBeNull();
    const everything = JSON.stringify(await database.db.execute(sql`select * from api_keys`));
    expect(everything).not.toContain(adminKey);
  });

  it('serves an OpenAPI document generated from the route schemas', async () => {
    const answer = await rawRequest('GET', '/openapi.json');
    expect(answer.status).toBe(200);
    const paths = answer.body.paths as Record<string, Record<string, { requestBody?: unknown }>>;
    expect(Object.keys(paths)).toEqual(
      expect.arrayContaining([
        '/v1/organizations',
        '/v1/organizations/{org}/environments/{env}/runs',
        '/v1/organizations/{org}/environments/{env}/runs/{run}/cancel',
      ]),
    );
    expect(JSON.stringify(paths['/v1/organizations/{org}/environments']?.post?.requestBody)).toContain(
      '"enum":["us","ca","eu"]',
    );
  });
});
