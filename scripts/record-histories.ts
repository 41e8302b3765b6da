import { mkdir, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { Client, Connection } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils.js';
import { PayloadEncryptionCodec } from '../common/payload-encryption.js';
import { temporalConnectOptionsWithToken } from '../common/temporal-connection.js';
import { stackTemporalConnection } from './stack/temporal.js';
import { createTavioClient } from '../control-api/client.js';
import { startHrisSource } from '../fixtures/hris-source.js';
import { startUpsertDestination } from '../fixtures/upsert-destination.js';
import { startWebhookReceiver } from '../fixtures/webhook-receiver.js';
import { censusCsv } from '../integrations/census-file-import/fixture.js';
import { generateEmployees } from '../fixtures/employees.js';
import { startPlatform } from './platform.js';
import { createSftpAccount } from './stack/sftp-accounts.js';
import type { SftpAccount } from './stack/sftp-accounts.js';
import { stackUp } from './stack/services.js';

/**
 * Re-records the histories that the replay tests replay: one real run of each integration on the
 * local stack (the file integrations need the stack's SFTP server, so root), every execution of
 * it (continue-as-new included), written under integrations/<integration>/histories/; and one sweep
 * of the environment's retention schedule, under workflows/histories/; and hris-employee-sync runs
 * through faults (see FAULTS).
 * Usage: tsx scripts/record-histories.ts [label] [integration...].
 */
/** Where an integration's recorded histories live; other workflows' (sweep, webhook) beside the workflows. */
const outOf = (name: string) =>
  fileURLToPath(
    new URL(
      name === SWEEP || name === WEBHOOK ? '../workflows/histories/' : `../integrations/${name}/histories/`,
      import.meta.url,
    ),
  );
/** The environment's retention sweep, recorded as `retention-sweep` (not an integration). */
const SWEEP = 'retention-sweep';
/**
 * hris-employee-sync through faults, recorded as `hris-employee-sync-faults`: a run whose activities
 * were retried (the destination answered 500s and a 429), one failed for good (its token refused),
 * one canceled mid-run. Written with the labels `<label>-retried`, `-failed` and `-canceled`.
 */
const FAULTS = 'hris-employee-sync-faults';
/**
 * An incremental hris-employee-sync after changes at the source (employees updated, terminated,
 * removed), recorded as `hris-employee-sync-incremental` with the label `<label>-incremental`; the
 * delivery of its `run.completed` webhook to a receiver that fails the first attempt is recorded as
 * `webhook-delivery`.
 */
const INCREMENTAL = 'hris-employee-sync-incremental';
const WEBHOOK = 'webhook-delivery';
/** Histories are kept, never overwritten: each recording gets a label (default: today's date). */
const LABEL = process.argv[2] ?? new Date().toISOString().slice(0, 10);
/** The integrations to record (after the label); every one when none is named. */
const ONLY = process.argv.slice(3);
const wanted = (integration: string) => ONLY.length === 0 || ONLY.includes(integration);
const say = (line: string) => process.stderr.write(`${line}\n`);

const stack = await stackUp();
const platform = await startPlatform(stack, { regions: ['us'] });
const source = await startHrisSource({
  apiKey: 'replay-source-key',
  employees: 150,
  seed: 1,
  rateLimitEvery: 4,
});
const destination = await startUpsertDestination({ token: 'replay-destination-token' });
const accounts: SftpAccount[] = [];
try {
  const org = `replay-${Date.now().toString(36)}`;
  const { apiKey } = await platform.operator.createOrganization(org);
  const client = createTavioClient({ baseUrl: platform.api.url, apiKey: apiKey.key });
  await client.createEnvironment(org, 'recording', 'us');
  const src = await client.createConnection(org, 'recording', {
    name: 'hris',
    kind: 'hris-rest',
    baseUrl: source.url,
    credentials: { apiKey: 'replay-source-key' },
  });
  const dst = await client.createConnection(org, 'recording', {
    name: 'directory',
    kind: 'upsert-rest',
    baseUrl: destination.url,
    credentials: { token: 'replay-destination-token' },
  });
  /** Runs an integration in the recording environment and writes every execution's history. */
  async function record(integration: string, connections: { source: string; destination: string }) {
    if (!wanted(integration)) return;
    const run = await client.createRun(org, 'recording', {
      integration,
      connections,
      options: integration === 'hris-employee-sync' ? { pageSize: 50, pagesPerExecution: 2 } : {},
      idempotencyKey: `recording-${integration}`,
    });
    say(`recording ${run.workflowId} in ${run.namespace}`);
    const done = await client.waitForRun(org, 'recording', run.id);
    if (done.status !== 'completed') throw new Error(`the recorded run ended ${done.status}`);
    await writeHistories(integration, run.namespace, `WorkflowId = '${run.workflowId}'`);
  }

  /** Starts the environment's retention sweep and writes its history once its receipt is in. */
  async function recordSweep() {
    if (!wanted(SWEEP)) return;
    await client.startSweep(org, 'recording');
    say('recording a retention sweep');
    for (let tries = 0; (await client.listDeletionReceipts(org, 'recording')).length === 0; tries++) {
      if (tries > 120) throw new Error('the sweep left no receipt within a minute');
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    const { namespace } = await client.getEnvironment(org, 'recording');
    await writeHistories(SWEEP, namespace, "WorkflowType = 'retentionSweep'");
  }

  /** The sync through a destination that fails: retried, failed for good, and canceled runs. */
  async function recordFaults() {
    if (!wanted(FAULTS)) return;
    const token = 'replay-destination-token';
    const faulty = await startUpsertDestination({
      token,
      delayMs: 100,
      fault: (batch) =>
        batch === 2 || batch === 3
          ? { status: 500 }
          : batch === 4
            ? { status: 429, retryAfterSeconds: 1 }
            : undefined,
    });
    try {
      const directory = (name: string, secret: string) =>
        client.createConnection(org, 'recording', {
          name,
          kind: 'upsert-rest',
          baseUrl: faulty.url,
          credentials: { token: secret },
        });
      const flaky = await directory('flaky-directory', token);
      const refusing = await directory('refusing-directory', 'a-token-the-destination-refuses');
      const runThrough = async (label: string, outcome: string, destination: string, cancel: boolean) => {
        const run = await client.createRun(org, 'recording', {
          integration: 'hris-employee-sync',
          connections: { source: src.id, destination },
          options: { pageSize: 50, pagesPerExecution: 2 },
          idempotencyKey: `recording-faults-${label}`,
        });
        say(`recording ${run.workflowId} (${label}) in ${run.namespace}`);
        if (cancel) {
          const before = faulty.requests;
          while (faulty.requests === before) await new Promise((resolve) => setTimeout(resolve, 50));
          await client.cancelRun(org, 'recording', run.id);
        }
        const done = await client.waitForRun(org, 'recording', run.id);
        if (done.status !== outcome) throw new Error(`the ${outcome} recording ended ${done.status}`);
        await writeHistories(
          'hris-employee-sync',
          run.namespace,
          `WorkflowId = '${run.workflowId}'`,
          `${LABEL}-${label}`,
        );
      };
      await runThrough('retried', 'completed', flaky.id, false);
      await runThrough('failed', 'failed', refusing.id, false);
      await runThrough('canceled', 'canceled', flaky.id, true);
    } finally {
      await faulty.close();
    }
  }

  /** Changes at the source, then an incremental run whose close is announced to a webhook receiver. */
  async function recordIncremental() {
    if (!wanted(INCREMENTAL) && !wanted(WEBHOOK)) return;
    const receiver = await startWebhookReceiver();
    try {
      receiver.failNext(1);
      await client.createWebhookEndpoint(org, 'recording', {
        url: `${receiver.url}/hooks`,
        events: ['run.completed'],
      });
      const [first, second, third] = source.employees;
      source.update(first!.employee_id, { job_title: 'Principal Engineer' });
      source.terminate(second!.employee_id, '2026-11-27');
      source.remove(third!.employee_id);
      const run = await client.createRun(org, 'recording', {
        integration: 'hris-employee-sync',
        connections: { source: src.id, destination: dst.id },
        options: { pageSize: 50, pagesPerExecution: 2, mode: 'incremental' },
        idempotencyKey: 'recording-incremental',
      });
      say(`recording ${run.workflowId} (incremental) in ${run.namespace}`);
      const done = await client.waitForRun(org, 'recording', run.id);
      if (done.status !== 'completed') throw new Error(`the incremental recording ended ${done.status}`);
      if (wanted(INCREMENTAL))
        await writeHistories(
          'hris-employee-sync',
          run.namespace,
          `WorkflowId = '${run.workflowId}'`,
          `${LABEL}-incremental`,
        );
      if (!wanted(WEBHOOK)) return;
      await receiver.waitFor(2, 60_000);
      for (let tries = 0; ; tries++) {
        const [endpoint] = await client.listWebhookEndpoints(org, 'recording');
        const deliveries = await client.listWebhookDeliveries(org, 'recording', endpoint!.id);
        if (deliveries.some((delivery) => delivery.status === 'delivered')) break;
        if (tries > 120) throw new Error('the webhook was not delivered within a minute');
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
      await writeHistories(WEBHOOK, run.namespace, "WorkflowType = 'webhookDelivery'");
    } finally {
      await receiver.close();
    }
  }

  /** Writes every execution that `query` finds, oldest first, and the payload key they are sealed under. */
  async function writeHistories(name: string, namespace: string, query: string, label = LABEL) {
    const { token } = await client.createTemporalToken(org, { environment: 'recording' });
    const connection = await Connection.connect(
      temporalConnectOptionsWithToken(stackTemporalConnection(stack.temporalAddress), token),
    );
    // The memo of each listed execution is sealed: open it as the control API does.
    const temporal = new Client({
      connection,
      namespace,
      dataConverter: {
        payloadCodecs: [new PayloadEncryptionCodec(namespace, platform.api.payloadKeys.ringOf(namespace))],
      },
    });
    const OUT = outOf(name);
    await mkdir(OUT, { recursive: true });
    let index = 0;
    const executions = [];
    for await (const execution of temporal.workflow.list({ query })) executions.push(execution);
    executions.sort((a, b) => a.startTime.getTime() - b.startTime.getTime());
    for (const execution of executions) {
      const history = await temporal.workflow.getHandle(execution.workflowId, execution.runId).fetchHistory();
      const file = `${OUT}${name}-${label}-${++index}.json`;
      // The proto3 JSON form, the same as `temporal workflow show -o json` writes.
      await writeFile(file, `${historyToJSON(history)}\n`);
      say(`wrote ${file} (${history.events?.length ?? 0} events)`);
    }
    await connection.close();
    // Histories are sealed under the recording environment's payload key; the replay test needs it.
    // The environment is retired right after, so the key opens nothing but these fixture histories.
    const environment = await client.getEnvironment(org, 'recording');
    const key = await platform.api.payloadKeys.ofEnvironment(environment.id);
    if (!key) throw new Error('the recording environment has no payload key');
    const keyFile = `${OUT}${name}-${label}.payload-key.json`;
    const fixture = { namespace, id: key.id, key: Buffer.from(key.key).toString('base64') };
    await writeFile(keyFile, `${JSON.stringify(fixture, null, 2)}\n`);
    say(`wrote ${keyFile}`);
  }

  await record('hris-employee-sync', { source: src.id, destination: dst.id });
  await recordIncremental();
  await recordFaults();
  if (stack.sftp) {
    // Files: two accounts on the stack's SFTP server, a payroll file and a census file.
    const [drop, vendor, censusDrop] = await Promise.all([0, 1, 2].map(() => createSftpAccount(stack.sftp)));
    accounts.push(drop!, vendor!, censusDrop!);
    await drop!.put('payroll.csv', 'employee_id,gross\nE1,4100\n');
    await censusDrop!.put('census.csv', censusCsv(generateEmployees(120, 1)));
    const sftpConnection = (name: string, account: SftpAccount) =>
      client.createConnection(org, 'recording', account.connection(name));
    const [fromDrop, toVendor, fromCensus] = await Promise.all([
      sftpConnection('payroll-drop', drop!),
      sftpConnection('payroll-vendor', vendor!),
      sftpConnection('census-drop', censusDrop!),
    ]);
    await record('sftp-file-transfer', { source: fromDrop.id, destination: toVendor.id });
    await record('census-file-import', { source: fromCensus.id, destination: dst.id });
  } else say('no SFTP server in the stack (it needs root): the file integrations are not recorded');
  await recordSweep();
  await client.retireEnvironment(org, 'recording');
} finally {
  await Promise.all(accounts.map((account) => account.close()));
  await source.close();
  await destination.close();
  await platform.stop();
}
