import type { TavioClient } from '../control-api/client.js';
import { summaryOf } from '../control-api/client.js';
import { censusCsv } from '../integrations/census-file-import/fixture.js';
import { generateEmployees } from '../fixtures/employees.js';
import { createSftpAccount } from './stack/sftp-accounts.js';
import type { SftpAccount } from './stack/sftp-accounts.js';
import type { SftpServer } from './stack/sftp.js';

export interface DemoTransfer {
  environment: string;
  workflowId: string;
  status: string;
  files: number;
  bytes: number;
  /** Per file id, the SHA-256 of what the destination received. */
  sha256: Record<string, string>;
  /** The names the vendor's server holds afterwards, read from its disk. */
  delivered: string[];
}

const say = (line: string) => process.stderr.write(`${line}\n`);

/**
 * The managed file transfer of the demo: a customer's SFTP drop (an account on the stack's SFTP
 * server) holds this month's payroll export; sftp-file-transfer moves it through the environment's
 * bucket, sealed, to a payroll vendor's SFTP server (another account), and deletes it at the source.
 */
export async function transferDemo(
  client: TavioClient,
  org: string,
  envSlug: string,
  server: SftpServer,
  accounts: SftpAccount[],
): Promise<DemoTransfer> {
  const [drop, vendor] = await Promise.all([createSftpAccount(server), createSftpAccount(server)]);
  accounts.push(drop, vendor);
  await drop.put('payroll-2026-11.csv', censusCsv(generateEmployees(5000, 7)));
  await drop.put('README.txt', 'not a payroll export: the connection pattern leaves it');
  const [source, destination] = await Promise.all([
    client.createConnection(org, envSlug, drop.connection('payroll-drop', { pattern: 'payroll-*.csv' })),
    client.createConnection(org, envSlug, vendor.connection('payroll-vendor')),
  ]);
  const run = await client.createRun(org, envSlug, {
    integration: 'sftp-file-transfer',
    connections: { source: source.id, destination: destination.id },
    options: { sourceAfter: 'delete' },
    idempotencyKey: `demo-transfer-${envSlug}`,
  });
  say(`demo: started ${run.workflowId} in ${run.namespace}: payroll drop -> bucket (sealed) -> vendor`);
  const done = await client.waitForRun(org, envSlug, run.id, { timeoutMs: 300_000 });
  const summary = summaryOf(done, 'sftp-file-transfer');
  const delivered = await vendor.list();
  say(
    `demo: ${done.namespace} ${done.status}: ${summary?.files ?? 0} file, ${summary?.bytes ?? 0} bytes delivered (${delivered.join(', ')}) -> ${done.webUiUrl}`,
  );
  return {
    environment: envSlug,
    workflowId: done.workflowId,
    status: done.status,
    files: summary?.files ?? 0,
    bytes: summary?.bytes ?? 0,
    sha256: summary?.sha256 ?? {},
    delivered,
  };
}
