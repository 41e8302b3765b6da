import {
  GetBucketLifecycleConfigurationCommand,
  ListObjectsV2Command,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import type { S3Client, _Object } from '@aws-sdk/client-s3';
import { Client } from '@temporalio/client';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { waitFor } from '../../scripts/processes.js';
import { DEFAULT_RETENTION, keepForMs, RETENTION_BOUNDS, SWEEP_SCHEDULE_ID } from '../../common/retention.js';
import type { RetentionSettings } from '../../common/retention.js';
import type { DeletionReceipt } from '../../control-api/client.js';
import { clientsAs } from '../support/aws.js';
import { statementRefusal, testDatabase } from '../support/database.js';
import type { EnvScenario } from '../support/scenario.js';
import { completedRun, newEnvironment, rawRequest } from '../support/scenario.js';
import { systemConnection, withPayloadCodec } from '../support/temporal.js';

const PREFIXES = ['tmp/', 'files/', 'quarantine/', 'logs/', 'credentials/'] as const;

async function listAll(s3: S3Client, bucket: string): Promise<_Object[]> {
  const objects: _Object[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }));
    objects.push(...(page.Contents ?? []));
    token = page.NextContinuationToken;
  } while (token);
  return objects;
}

const under = (objects: _Object[], prefix: string) => objects.filter((o) => o.Key!.startsWith(prefix));
const bytesOf = (objects: _Object[]) => objects.reduce((sum, o) => sum + (o.Size ?? 0), 0);

describe('retention policy per environment', () => {
  const database = testDatabase();
  let s: EnvScenario;
  const path = () => `/v1/organizations/${s.org}/environments/${s.env}/retention`;

  async function auditRows(action: string) {
    return database.db.execute<{ actor_key_id: string; details: Record<string, unknown> }>(
      sql`select actor_key_id, details from audit_log where environment_id = ${s.environment.id} and action = ${action} order by id`,
    );
  }

  beforeAll(async () => {
    s = await newEnvironment('ca', { employees: 120 });
  });
  afterAll(async () => {
    await s.close();
    await database.close();
  });

  it('starts at safe defaults as version 0, with the bounds of each duration', async () => {
    const policy = await s.client.getRetention(s.org, s.env);
    expect(policy).toMatchObject({ ...DEFAULT_RETENTION, version: 0, createdAt: null });
    expect(DEFAULT_RETENTION.tmpBufferHours).toBeLessThanOrEqual(24);
    expect((policy as unknown as { bounds: unknown }).bounds).toEqual(
      JSON.parse(JSON.stringify(RETENTION_BOUNDS)),
    );
  });

  it('is applied at provisioning: lifecycle rules on the bucket and an hourly sweep schedule in the namespace', async () => {
    const { s3 } = await clientsAs(s.environment, 'tavio-provisioner');
    const rules = await s3.send(new GetBucketLifecycleConfigurationCommand({ Bucket: s.environment.bucket }));
    expect(rules.Rules?.map((rule) => rule.Filter?.Prefix).sort()).toEqual([
      'files/',
      'logs/',
      'quarantine/',
      'tmp/',
    ]);
    const connection = await systemConnection();
    try {
      const schedule = await withPayloadCodec(s.environment.namespace, (codec) =>
        new Client({
          connection,
          namespace: s.environment.namespace,
          dataConverter: { payloadCodecs: [codec] },
        }).schedule
          .getHandle(SWEEP_SCHEDULE_ID)
          .describe(),
      );
      expect(schedule.action).toMatchObject({
        workflowType: 'retentionSweep',
        taskQueue: 'ca1',
        args: [{ policyVersion: 0, keepForMs: keepForMs(DEFAULT_RETENTION) }],
      });
      expect(schedule.spec.intervals).toMatchObject([{ every: 3_600_000 }]);
    } finally {
      await connection.close();
    }
  });

  it.each([
    ['a duration under its bound', { tmpBufferHours: 0 }, 'tmpBufferHours'],
    ['a negative duration', { runLogDays: -1 }, 'runLogDays'],
    ['an absurd duration', { transferredFileDays: 1e9 }, 'transferredFileDays'],
    ['a fractional duration', { historyDays: 1.5 }, 'historyDays'],
    ['a duration as text', { quarantineDays: '30' }, 'quarantineDays'],
    ['an unknown log detail', { runLogDetail: 'everything' }, 'runLogDetail'],
    ['an unknown field', { keepForever: true }, 'keepForever'],
  ])('refuses %s, naming it, and changes nothing', async (_what, change, named) => {
    const before = await s.client.listRetentionVersions(s.org, s.env);
    const answer = await rawRequest('PUT', path(), {
      key: s.adminKey,
      body: JSON.stringify({ ...DEFAULT_RETENTION, version: before[0]?.version ?? 0, ...change }),
    });
    expect(answer.status).toBe(400);
    expect(JSON.stringify(answer.body)).toContain(named);
    expect(await s.client.listRetentionVersions(s.org, s.env)).toEqual(before);
  });

  it("refuses a change from an environment's own key: governing retention is the organization's", async () => {
    const answer = await rawRequest('PUT', path(), {
      key: s.envKey,
      body: JSON.stringify({ ...DEFAULT_RETENTION, version: 0 }),
    });
    expect([403, 404]).toContain(answer.status);
  });

  it('stores a change as the next version, audited with the acting key and the version it replaced, and applies it', async () => {
    const current = await s.client.getRetention(s.org, s.env);
    const settings: RetentionSettings = {
      ...DEFAULT_RETENTION,
      runLogDays: 14,
      historyDays: 5,
      quarantineDays: 2,
    };
    const stored = await s.admin.putRetention(s.org, s.env, { ...settings, version: current.version });
    expect(stored).toMatchObject({ ...settings, version: current.version + 1 });
    const audited = await auditRows('retention.updated');
    expect(audited.at(-1)).toMatchObject({
      details: { version: current.version + 1, replaced: current.version, policy: settings },
    });
    expect(audited.at(-1)!.actor_key_id).toBe(stored.createdByKeyId);

    const { s3 } = await clientsAs(s.environment, 'tavio-provisioner');
    const rules = await s3.send(new GetBucketLifecycleConfigurationCommand({ Bucket: s.environment.bucket }));
    const days = Object.fromEntries(rules.Rules!.map((rule) => [rule.Filter!.Prefix, rule.Expiration!.Days]));
    expect(days).toEqual({ 'tmp/': 1, 'files/': 365, 'quarantine/': 2, 'logs/': 14 });
    const connection = await systemConnection();
    try {
      const described = await connection.workflowService.describeNamespace({
        namespace: s.environment.namespace,
      });
      expect(Number(described.config?.workflowExecutionRetentionTtl?.seconds)).toBe(5 * 86_400);
    } finally {
      await connection.close();
    }
  });

  it('refuses a change based on a stale version with 409, and changes nothing', async () => {
    const before = await s.client.listRetentionVersions(s.org, s.env);
    const answer = await rawRequest('PUT', path(), {
      key: s.adminKey,
      body: JSON.stringify({ ...DEFAULT_RETENTION, version: 0 }),
    });
    expect(answer).toMatchObject({
      status: 409,
      body: { type: 'https://tavio.dev/problems/stale-policy-version' },
    });
    expect(await s.client.listRetentionVersions(s.org, s.env)).toEqual(before);
  });

  it('gives one of two concurrent changes from the same version, and refuses the other', async () => {
    const { version } = await s.client.getRetention(s.org, s.env);
    const change = (runLogDays: number) =>
      rawRequest('PUT', path(), {
        key: s.adminKey,
        body: JSON.stringify({ ...DEFAULT_RETENTION, runLogDays, version }),
      });
    const answers = await Promise.all([change(7), change(9)]);
    expect(answers.map((answer) => answer.status).sort()).toEqual([200, 409]);
    const now = await s.client.getRetention(s.org, s.env);
    expect(now.version).toBe(version + 1);
    const winner = answers.find((answer) => answer.status === 200)!.body;
    expect(now.runLogDays).toBe(winner.runLogDays);
  });

  it('records on each run the policy version it ran under', async () => {
    const { version } = await s.client.getRetention(s.org, s.env);
    const run = await completedRun(s);
    expect(run.retentionPolicyVersion).toBe(version);
    expect(run.logDetail).toBe('metadata');
  });

  it('keeps versions unchangeable, even for the application role', async () => {
    const refused = await statementRefusal(
      inject('stack').databaseUrl,
      `update retention_policies set run_log_days = 400 where environment_id = '${s.environment.id}'`,
    );
    expect(refused.code).toBe('42501');
  });
});

describe('retention sweep with deletion receipts', () => {
  let s: EnvScenario;
  let s3: S3Client;
  let before: _Object[];
  let after: _Object[];
  let receipt: DeletionReceipt;

  beforeAll(async () => {
    s = await newEnvironment('us', { employees: 120 });
    // What runs leave: run logs; and buffers, a quarantined file and a ledger, written here.
    await completedRun(s);
    s3 = (await clientsAs(s.environment, 'tavio-dataplane')).s3;
    for (const [key, size] of [
      ['tmp/run-a/part-1', 300],
      ['quarantine/run-b/file-1', 700],
      ['quarantine/run-b/file-1.about', 90],
      ['files/ledger-x-sftpFileTransfer', 40],
    ] as const) {
      await s3.send(
        new PutObjectCommand({ Bucket: s.environment.bucket, Key: key, Body: Buffer.alloc(size, 7) }),
      );
    }
    // Listed times have whole seconds: the sweep starts in a later second than the last write.
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const { version } = await s.client.getRetention(s.org, s.env);
    const policy = await s.admin.putRetention(s.org, s.env, {
      ...DEFAULT_RETENTION,
      quarantineDays: 0,
      runLogDays: 0,
      version,
    });
    before = await listAll(s3, s.environment.bucket);
    await s.admin.startSweep(s.org, s.env);
    receipt = await waitFor(
      'the sweep receipt',
      async () =>
        (await s.admin.listDeletionReceipts(s.org, s.env)).find(
          (r) => r.kind === 'sweep' && r.policyVersion === policy.version,
        ),
      90_000,
    );
    after = await listAll(s3, s.environment.bucket);
  });
  afterAll(async () => {
    await s.close();
  });

  it('deletes what is past its time under each prefix, and only that', () => {
    const gone = before.filter((object) => !after.some((left) => left.Key === object.Key));
    const olderThan = Object.fromEntries(receipt.prefixes.map((p) => [p.prefix, Date.parse(p.olderThan)]));
    expect(under(before, 'logs/').length).toBeGreaterThan(0);
    // Everything deleted was due; everything due was deleted.
    for (const object of gone)
      expect(object.LastModified!.getTime()).toBeLessThan(olderThan[object.Key!.split('/')[0] + '/']!);
    for (const object of after)
      if (before.some((b) => b.Key === object.Key))
        expect(object.LastModified!.getTime()).toBeGreaterThanOrEqual(
          olderThan[object.Key!.split('/')[0] + '/'] ?? 0,
        );
    expect(under(gone, 'logs/')).toHaveLength(under(before, 'logs/').length);
    expect(under(gone, 'quarantine/')).toHaveLength(2);
    for (const kept of ['tmp/', 'files/', 'credentials/']) expect(under(gone, kept)).toHaveLength(0);
  });

  it('writes a receipt whose counts and bytes are what the S3 service no longer lists', () => {
    const gone = before.filter((object) => !after.some((left) => left.Key === object.Key));
    for (const prefix of PREFIXES.filter((p) => p !== 'credentials/')) {
      const swept = receipt.prefixes.find((p) => p.prefix === prefix);
      expect(swept, prefix).toMatchObject({
        objects: under(gone, prefix).length,
        bytes: bytesOf(under(gone, prefix)),
        complete: true,
      });
    }
    expect(receipt.prefixes.map((p) => p.prefix)).not.toContain('credentials/');
    expect(receipt.objectsDeleted).toBe(gone.length);
    expect(receipt.bytesDeleted).toBe(bytesOf(gone));
    const logs = receipt.prefixes.find((p) => p.prefix === 'logs/')!;
    const times = under(gone, 'logs/')
      .map((o) => o.LastModified!.toISOString())
      .sort();
    expect([logs.oldest, logs.newest]).toEqual([times[0], times.at(-1)]);
  });

  it("writes the sweep's own log, which the next sweep will find due", () => {
    const own = after.filter((o) => !before.some((b) => b.Key === o.Key));
    expect(own.length).toBeGreaterThan(0);
    for (const object of own)
      expect(object.Key).toMatch(/^logs\/\d{4}-\d\d-\d\d\/tavio-retention-sweep-[^/]+\//);
  });

  it('names no object in the receipt', () => {
    const text = JSON.stringify(receipt);
    for (const object of before) expect(text).not.toContain(object.Key!.split('/').slice(1).join('/'));
  });
});
