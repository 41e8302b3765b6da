import { DescribeKeyCommand } from '@aws-sdk/client-kms';
import { GetBucketLocationCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import type { Residency, Run } from '../../control-api/client.js';
import { regionHostPid, waitFor } from '../../scripts/processes.js';
import type { EnvScenario } from '../support/scenario.js';
import { histories, newEnvironment, newOrganization, runRequest } from '../support/scenario.js';
import { gatewayLog, gatewayMarks, gatewayRequests } from '../support/gateways.js';
import type { GatewayMarks } from '../support/gateways.js';
import { clientsAs } from '../support/aws.js';

const REGIONS = [
  { region: 'us', gateway: 'us1', awsRegion: 'us-east-1' },
  { region: 'ca', gateway: 'ca1', awsRegion: 'ca-central-1' },
  { region: 'eu', gateway: 'eu1', awsRegion: 'eu-central-1' },
] as const;

describe('regional sovereignty, three regions at once', () => {
  const scenarios = new Map<string, EnvScenario>();
  const runs = new Map<string, Run>();
  const records = new Map<string, Residency>();

  let marks: GatewayMarks;

  beforeAll(async () => {
    marks = gatewayMarks();
    const org = await newOrganization('sovereign');
    for (const { region } of REGIONS) {
      scenarios.set(
        region,
        await newEnvironment(region, { org, env: `prod-${region}`, employees: 250, rateLimitEvery: 0 }),
      );
    }
    await Promise.all(
      REGIONS.map(async ({ region }) => {
        const s = scenarios.get(region)!;
        const started = await s.client.createRun(s.org, s.env, runRequest(s));
        runs.set(region, await s.client.waitForRun(s.org, s.env, started.id));
        records.set(region, await s.client.getResidency(s.org, s.env, started.id));
      }),
    );
  });
  afterAll(async () => {
    await Promise.all([...scenarios.values()].map((s) => s.close()));
  });

  it.each(REGIONS)(
    'keeps a residency record of the $region run: its region, queue, host, storage and key',
    ({ region, gateway, awsRegion }) => {
      const s = scenarios.get(region)!;
      expect(runs.get(region)?.status).toBe('completed');
      expect(records.get(region)).toMatchObject({
        runId: runs.get(region)!.id,
        namespace: s.environment.namespace,
        region,
        gateway,
        taskQueue: gateway,
        workerHosts: [`${region}-host`],
        storage: { bucket: s.environment.bucket, awsRegion },
        key: { arn: s.environment.keyArn, awsRegion },
        final: true,
      });
    },
  );

  it.each(REGIONS)("matches the $gateway gateway's own log, request for request", ({ region, gateway }) => {
    const s = scenarios.get(region)!;
    const egress = records.get(region)!.egress!;
    // Counted by the gateway from its own log, not reported by the worker.
    expect(egress.source).toBe('gateway');
    const source = new URL(s.source.url);
    const destination = new URL(s.destination.url);
    expect(egress.hosts[source.host]).toBe(s.source.requests);
    expect(egress.hosts[destination.host]).toBe(s.destination.requests);
    expect(gatewayRequests(gateway, marks, source.origin, 'GET')).toBe(s.source.requests);
    expect(gatewayRequests(gateway, marks, destination.origin, 'POST')).toBe(s.destination.requests);
    // Storage and key calls (the vault) went through the gateway too.
    expect(egress.hosts[new URL(inject('stack').awsEndpoint).host]).toBeGreaterThan(0);
    expect(egress.requests).toBe(Object.values(egress.hosts).reduce((a, b) => a + b, 0));
  });

  it.each(REGIONS)(
    'keeps the $region environment objects and key in $awsRegion, as the stores themselves report',
    async ({ region, awsRegion }) => {
      const s = scenarios.get(region)!;
      const { s3, kms } = await clientsAs(s.environment, 'tavio-provisioner');
      const location = (await s3.send(new GetBucketLocationCommand({ Bucket: s.environment.bucket })))
        .LocationConstraint;
      // S3 reports us-east-1, its original region, as no location constraint.
      expect(location ?? 'us-east-1').toBe(awsRegion);
      const objects =
        (await s3.send(new ListObjectsV2Command({ Bucket: s.environment.bucket }))).Contents ?? [];
      // Its connections' credentials, the pair's sync mark, and the logs of its run: nothing else.
      const keys = objects.map((o) => o.Key!);
      expect(keys.filter((key) => !key.startsWith('logs/')).sort()).toEqual(
        [
          `credentials/${s.destinationConnectionId}`,
          `credentials/${s.sourceConnectionId}`,
          `state/sync-marks/${s.sourceConnectionId}.${s.destinationConnectionId}`,
        ].sort(),
      );
      expect(keys.some((key) => key.startsWith('logs/'))).toBe(true);
      const key = await kms.send(new DescribeKeyCommand({ KeyId: s.environment.keyArn! }));
      expect(key.KeyMetadata?.Arn?.split(':')[3]).toBe(awsRegion);
    },
  );

  it.each(REGIONS)(
    "sends none of the $region run's traffic through another region's gateway",
    ({ region, gateway }) => {
      const s = scenarios.get(region)!;
      for (const other of REGIONS.filter((r) => r.gateway !== gateway)) {
        const log = gatewayLog(other.gateway, marks);
        expect(log).not.toContain(new URL(s.source.url).host);
        expect(log).not.toContain(new URL(s.destination.url).host);
      }
    },
  );
});

describe('a region without a worker host', () => {
  let s: EnvScenario;
  let hostPid: number;

  beforeAll(async () => {
    hostPid = (await waitFor('the ca region host', () => regionHostPid('ca', inject('controlApiUrl'))))!;
    // Paused, the ca host starts no worker for an environment that appears now.
    process.kill(hostPid, 'SIGSTOP');
    s = await newEnvironment('ca', { employees: 60, rateLimitEvery: 0 });
  });
  afterAll(async () => {
    process.kill(hostPid, 'SIGCONT');
    await s.close();
  });

  it('leaves a run waiting, says so, and runs it nowhere else; it completes once its host is back', async () => {
    const run = await s.client.createRun(s.org, s.env, runRequest(s));
    await new Promise((resolve) => setTimeout(resolve, 3000));
    const waiting = await s.client.getRun(s.org, s.env, run.id);
    expect(waiting.status).toBe('running');
    expect(waiting.waitingFor).toMatch(/^no worker of region ca polls task queue ca1 in namespace /);
    expect(s.source.requests).toBe(0);
    const started = (await histories(s.environment.namespace, run.workflowId))
      .flatMap((h) => h.events ?? [])
      .filter((e) => e.workflowTaskStartedEventAttributes);
    expect(started).toEqual([]);

    process.kill(hostPid, 'SIGCONT');
    const done = await s.client.waitForRun(s.org, s.env, run.id, { timeoutMs: 90_000 });
    expect(done).toMatchObject({ status: 'completed', waitingFor: null, summary: { recordsRead: 60 } });
    expect((await s.client.getResidency(s.org, s.env, run.id)).workerHosts).toEqual(['ca-host']);
  });
});
