import { readFileSync } from 'node:fs';
import { DescribeKeyCommand } from '@aws-sdk/client-kms';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { environmentWorkerPid, waitFor } from '../../scripts/processes.js';
import { clientsAs, refusal } from '../support/aws.js';
import { tableCounts, testDatabase } from '../support/database.js';
import type { EnvScenario } from '../support/scenario.js';
import { newEnvironment, rawRequest, runRequest } from '../support/scenario.js';
import { systemConnection } from '../support/temporal.js';
import type { PrefixSweep } from '../../common/retention.js';
import type { DeletionReceipt } from '../../control-api/client.js';

describe('retiring an environment', () => {
  const database = testDatabase();
  let s: EnvScenario;
  let receipt: Record<string, unknown>;
  let slowRunId: string;

  beforeAll(async () => {
    s = await newEnvironment('eu', { employees: 1000, rateLimitEvery: 2 });
    const slow = await s.client.createRun(
      s.org,
      s.env,
      runRequest(s, { options: { pageSize: 10, pagesPerExecution: 50 } }),
    );
    slowRunId = slow.id;
    await waitFor(
      'the run to start moving records',
      () => s.destination.records.size > 0 || undefined,
      60_000,
    );
    const answer = await s.admin.retireEnvironment(s.org, s.env);
    expect(answer.environment.status).toBe('retired');
    receipt = answer.receipt as unknown as Record<string, unknown>;
  });
  afterAll(async () => {
    await s.close();
    await database.close();
  });

  it('answers a receipt of what it destroyed', () => {
    expect(receipt).toMatchObject({
      namespace: s.environment.namespace,
      bucket: s.environment.bucket,
      keyArn: s.environment.keyArn,
      keyDisabled: true,
      keyDeletionDate: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      dataplaneRoleDeleted: true,
      payloadKeyDestroyed: true,
      apiKeysRevoked: 1,
      runsCanceled: 1,
      connectionsDeleted: 2,
    });
  });

  it('counts what it deleted per prefix, the run logs with the rest, and keeps that as a deletion receipt', async () => {
    const prefixes = receipt.prefixes as PrefixSweep[];
    const byPrefix = Object.fromEntries(prefixes.map((p) => [p.prefix, p]));
    // Its two connections' sealed credentials, and the log the canceled run wrote while it ran.
    expect(byPrefix['credentials/']).toMatchObject({ objects: 2, complete: true });
    expect(byPrefix['logs/']!.objects).toBeGreaterThan(0);
    expect(byPrefix['logs/']!.bytes).toBeGreaterThan(0);
    expect(receipt.objectsDeleted).toBe(prefixes.reduce((sum, p) => sum + p.objects, 0));
    expect(receipt.bytesDeleted).toBe(prefixes.reduce((sum, p) => sum + p.bytes, 0));
    const listed = await rawRequest(
      'GET',
      `/v1/organizations/${s.org}/environments/${s.env}/deletion-receipts`,
      {
        key: s.adminKey,
      },
    );
    const receipts = (listed.body as { receipts: DeletionReceipt[] }).receipts;
    expect(receipts.filter((r) => r.kind === 'retirement')).toMatchObject([
      {
        objectsDeleted: receipt.objectsDeleted,
        bytesDeleted: receipt.bytesDeleted,
        prefixes,
        complete: true,
      },
    ]);
  });

  it('lists what went with its worker, as its region host checked it: OS user, network rules, gateway credentials', async () => {
    const osUser = `tv-eu1-${s.environment.id.replaceAll('-', '').slice(0, 16)}`;
    expect(receipt.worker).toMatchObject({
      confirmed: true,
      osUser,
      osUserRemoved: true,
      networkRulesRemoved: true,
      gatewayCredentialsRevoked: true,
    });
    // Checked here too: the user is gone from the system, the gateway knows its proxy user no more.
    expect(readFileSync('/etc/passwd', 'utf8')).not.toContain(`${osUser}:`);
    const passwd = readFileSync(inject('stack').gatewayFiles.eu1.passwd, 'utf8');
    expect(passwd).not.toContain(`e${s.environment.id.replaceAll('-', '')}:`);
    const connections = await database.db.execute<{ n: number }>(
      sql`select count(*)::int as n from connections where environment_id = ${s.environment.id}`,
    );
    expect(connections[0]!.n).toBe(0);
  });

  it('destroys its Temporal payload data key, so what Temporal still holds of it opens for nobody', async () => {
    const rows = await database.db.execute<{ n: number }>(
      sql`select count(*)::int as n from payload_keys where environment_id = ${s.environment.id}`,
    );
    expect(rows[0]!.n).toBe(0);
  });

  it('writes the receipt into the audit log', async () => {
    const rows = await database.db.execute<{ details: unknown }>(
      sql`select details from audit_log where environment_id = ${s.environment.id} and action = 'environment.retired'`,
    );
    expect(rows.map((row) => row.details)).toEqual([receipt]);
  });

  it('refuses its old key, stops its worker and ends its running run as canceled', async () => {
    const answer = await rawRequest('GET', `/v1/organizations/${s.org}/environments/${s.env}/runs`, {
      key: s.envKey,
    });
    expect(answer.status).toBe(401);
    await waitFor(
      'the worker to stop',
      () => (environmentWorkerPid(s.environment.namespace) === undefined ? true : undefined),
      30_000,
    );
    const run = await rawRequest(
      'GET',
      `/v1/organizations/${s.org}/environments/${s.env}/runs/${slowRunId}`,
      { key: s.adminKey },
    );
    expect(run.body).toMatchObject({ status: 'canceled', failure: 'environment retired' });
  });

  it('leaves no bucket, a key pending deletion, and no namespace', async () => {
    const { s3, kms } = await clientsAs(s.environment, 'tavio-provisioner');
    expect(await refusal(s3.send(new ListObjectsV2Command({ Bucket: s.environment.bucket })))).toMatchObject({
      status: 404,
      name: 'NoSuchBucket',
    });
    const key = await kms.send(new DescribeKeyCommand({ KeyId: s.environment.keyArn! }));
    expect(key.KeyMetadata).toMatchObject({ KeyState: 'PendingDeletion', Enabled: false });
    const connection = await systemConnection();
    try {
      const described = await connection.workflowService
        .describeNamespace({ namespace: s.environment.namespace })
        .catch((error: { code?: number }) => error);
      const state = (described as { namespaceInfo?: { state?: number } }).namespaceInfo?.state;
      // Gone (NOT_FOUND), or marked deleted (NAMESPACE_STATE_DELETED = 2) while the server removes it.
      expect((described as { code?: number }).code === 5 || state === 2).toBe(true);
    } finally {
      await connection.close();
    }
  });

  it('answers a second request as already retired, and nothing else runs', async () => {
    const before = await tableCounts(database.db);
    const again = await rawRequest('DELETE', `/v1/organizations/${s.org}/environments/${s.env}`, {
      key: s.adminKey,
    });
    expect(again).toMatchObject({
      status: 409,
      body: { type: 'https://tavio.dev/problems/already-retired' },
    });
    expect(await tableCounts(database.db)).toEqual(before);
  });
});
