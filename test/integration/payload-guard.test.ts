import { randomBytes, randomUUID } from 'node:crypto';
import { PayloadEncryptionCodec, fixedKeyRing } from '../../common/payload-encryption.js';
import type { Connection } from '@temporalio/client';
import { Client, WorkflowNotFoundError } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_PAYLOAD_LIMIT_BYTES, guardedDataConverter } from '../../common/payload-guard.js';
import { generateEmployees } from '../../fixtures/employees.js';
import { systemConnection } from '../support/temporal.js';

/** The data converter every Tavio client and worker uses refuses data-sized payloads before they reach Temporal. */
describe('metadata guard on a real Temporal server', () => {
  let connection: Connection;
  let client: Client;
  beforeAll(async () => {
    connection = await systemConnection();
    client = new Client({
      connection,
      namespace: 'default',
      // A key of this test's own: the guard refuses before anything is sealed or sent.
      dataConverter: guardedDataConverter(
        DEFAULT_PAYLOAD_LIMIT_BYTES,
        new PayloadEncryptionCodec('default', fixedKeyRing([{ id: randomUUID(), key: randomBytes(32) }])),
      ),
    });
  });
  afterAll(async () => {
    await connection.close();
  });

  it('refuses to start a workflow whose arguments carry records, and nothing is started', async () => {
    const workflowId = `guard-${randomUUID()}`;
    const start = client.workflow.start('hrisEmployeeSync', {
      taskQueue: 'guard-test',
      workflowId,
      args: [{ records: generateEmployees(200) }],
    });
    await expect(start).rejects.toMatchObject({ type: 'PayloadTooLarge', nonRetryable: true });
    await expect(client.workflow.getHandle(workflowId).describe()).rejects.toBeInstanceOf(
      WorkflowNotFoundError,
    );
  });

  it('refuses a memo that carries records', async () => {
    const start = client.workflow.start('hrisEmployeeSync', {
      taskQueue: 'guard-test',
      workflowId: `guard-${randomUUID()}`,
      args: [{}],
      memo: { employees: generateEmployees(200) },
    });
    await expect(start).rejects.toMatchObject({ type: 'PayloadTooLarge' });
  });
});
