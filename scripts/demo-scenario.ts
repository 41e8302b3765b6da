import { randomBytes } from 'node:crypto';
import type { RegionCode } from '../common/regions.js';
import type { Run, TavioClient } from '../control-api/client.js';
import { createTavioClient, summaryOf } from '../control-api/client.js';
import { startHrisSource } from '../fixtures/hris-source.js';
import { startUpsertDestination } from '../fixtures/upsert-destination.js';
import type { Platform } from './platform.js';
import { transferDemo } from './demo-transfer.js';
import type { DemoTransfer } from './demo-transfer.js';
import type { SftpAccount } from './stack/sftp-accounts.js';
import type { SftpServer } from './stack/sftp.js';

export interface DemoRun {
  organization: string;
  environment: string;
  region: RegionCode;
  namespace: string;
  taskQueue: string;
  workflowId: string;
  runId: string | null;
  status: Run['status'];
  recordsRead: number;
  recordsWritten: number;
  webUiUrl: string;
  durationMs: number;
}

const say = (line: string) => process.stderr.write(`${line}\n`);

/**
 * Provisions a demo organization with one environment per given region, connects each to its own
 * fixture HRIS and destination, runs hris-employee-sync in each, and waits for the runs. With the
 * stack's SFTP server, each environment then moves a payroll file between two SFTP accounts.
 */
export async function runDemo(
  platform: Platform,
  regions: readonly RegionCode[],
  options: { employees?: number; sftp?: SftpServer } = {},
): Promise<{
  organization: string;
  adminKey: string;
  runs: DemoRun[];
  transfers: DemoTransfer[];
  close(): Promise<void>;
}> {
  const employees = options.employees ?? 2000;
  const org = `demo-${randomBytes(3).toString('hex')}`;
  say(`demo: creating organization ${org}`);
  const { apiKey } = await platform.operator.createOrganization(org, 'Demo Partner');
  const admin = createTavioClient({ baseUrl: platform.api.url, apiKey: apiKey.key });
  const fixtures: Array<{ close(): Promise<void> }> = [];
  const started = await Promise.all(
    regions.map(async (region) => {
      const envSlug = `production-${region}`;
      say(
        `demo: provisioning ${org}/${envSlug} in region ${region} (namespace, bucket, key, data-plane role)`,
      );
      await admin.createEnvironment(org, envSlug, region);
      const envKey = await admin.createEnvironmentKey(org, envSlug);
      const client: TavioClient = createTavioClient({ baseUrl: platform.api.url, apiKey: envKey.key });
      const sourceKey = randomBytes(16).toString('hex');
      const token = randomBytes(16).toString('hex');
      const source = await startHrisSource({
        apiKey: sourceKey,
        employees,
        rateLimitEvery: 7,
        retryAfterSeconds: 1,
      });
      const destination = await startUpsertDestination({ token });
      fixtures.push(source, destination);
      const src = await client.createConnection(org, envSlug, {
        name: 'hris',
        kind: 'hris-rest',
        baseUrl: source.url,
        credentials: { apiKey: sourceKey },
      });
      const dst = await client.createConnection(org, envSlug, {
        name: 'directory',
        kind: 'upsert-rest',
        baseUrl: destination.url,
        credentials: { token },
      });
      const run = await client.createRun(org, envSlug, {
        integration: 'hris-employee-sync',
        connections: { source: src.id, destination: dst.id },
        options: { pageSize: 100, pagesPerExecution: 10 },
        idempotencyKey: `demo-${envSlug}`,
      });
      say(`demo: started ${run.workflowId} in ${run.namespace} on task queue ${run.taskQueue}`);
      return { client, envSlug, region, run };
    }),
  );
  const accounts: SftpAccount[] = [];
  const runs = await Promise.all(
    started.map(async ({ client, envSlug, region, run }) => {
      const done = await client.waitForRun(org, envSlug, run.id, { timeoutMs: 300_000 });
      const summary = summaryOf(done, 'hris-employee-sync');
      const residency = await client.getResidency(org, envSlug, run.id);
      say(`demo: residency of ${done.workflowId}: ${JSON.stringify(residency)}`);
      say(
        `demo: ${done.namespace} ${done.status}: ${summary?.recordsRead ?? 0} read, ${summary?.recordsWritten ?? 0} written, ${summary?.recordsSkipped ?? 0} skipped -> ${done.webUiUrl}`,
      );
      return {
        organization: org,
        environment: envSlug,
        region,
        namespace: done.namespace,
        taskQueue: done.taskQueue,
        workflowId: done.workflowId,
        runId: done.runId,
        status: done.status,
        recordsRead: summary?.recordsRead ?? 0,
        recordsWritten: summary?.recordsWritten ?? 0,
        webUiUrl: done.webUiUrl,
        durationMs: summary?.durationMs ?? 0,
      };
    }),
  );
  const { sftp } = options;
  const transfers = sftp
    ? await Promise.all(started.map((s) => transferDemo(s.client, org, s.envSlug, sftp, accounts)))
    : [];
  return {
    organization: org,
    adminKey: apiKey.key,
    runs,
    transfers,
    close: () => Promise.all([...fixtures, ...accounts].map((f) => f.close())).then(() => undefined),
  };
}
