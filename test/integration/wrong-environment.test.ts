import { randomUUID } from 'node:crypto';
import type { Connection } from '@temporalio/client';
import { Client, WorkflowFailedError } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_PAYLOAD_LIMIT_BYTES, guardedDataConverter } from '../../common/payload-guard.js';
import { SA } from '../../common/search-attributes.js';
import type { EnvScenario } from '../support/scenario.js';
import { histories, newEnvironment, runRequest } from '../support/scenario.js';
import { payloadCodecOf, systemConnection } from '../support/temporal.js';

/** An environment's worker refuses, before running any workflow code, an execution of another environment or region. */
describe('an environment worker given a task that is not its own', () => {
  let s: EnvScenario;
  let connection: Connection;
  let client: Client;
  let payloads: ReturnType<typeof payloadCodecOf>;
  beforeAll(async () => {
    s = await newEnvironment('us', { employees: 10 });
    connection = await systemConnection();
    payloads = payloadCodecOf(s.environment.namespace);
    client = new Client({
      connection,
      namespace: s.environment.namespace,
      dataConverter: guardedDataConverter(DEFAULT_PAYLOAD_LIMIT_BYTES, payloads.codec),
    });
  });
  afterAll(async () => {
    await connection.close();
    await payloads.close();
    await s.close();
  });

  it.each([
    [
      'another environment',
      { environment: 'production', region: 'us' },
      /belongs to .*\/production in region us, not to namespace/,
    ],
    [
      'another region',
      { environment: undefined, region: 'eu' },
      /in region eu, not to namespace .* on task queue us1/,
    ],
  ])(
    'fails a workflow that claims %s, with WrongEnvironment and no activity run',
    async (_name, claim, message) => {
      const workflowId = `foreign-${randomUUID()}`;
      const request = runRequest(s);
      const handle = await client.workflow.start('hrisEmployeeSync', {
        taskQueue: 'us1',
        workflowId,
        args: [
          {
            source: { id: request.connections.source, baseUrl: s.source.url },
            destination: { id: request.connections.destination, baseUrl: s.destination.url },
            options: { pageSize: 10, pagesPerExecution: 1 },
          },
        ],
        typedSearchAttributes: [
          { key: SA.organization, value: s.org },
          { key: SA.environment, value: claim.environment ?? s.env },
          { key: SA.region, value: claim.region },
          { key: SA.integration, value: 'hris-employee-sync' },
        ],
      });
      const failure = await handle.result().catch((error: unknown) => error);
      expect(failure).toBeInstanceOf(WorkflowFailedError);
      expect((failure as WorkflowFailedError).cause).toMatchObject({
        type: 'WrongEnvironment',
        nonRetryable: true,
        message: expect.stringMatching(message),
      });
      const events = (await histories(s.environment.namespace, workflowId)).flatMap((h) => h.events ?? []);
      expect(events.filter((e) => e.activityTaskScheduledEventAttributes)).toEqual([]);
      expect(s.source.requests).toBe(0);
    },
  );
});
