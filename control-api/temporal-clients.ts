import { Client, Connection } from '@temporalio/client';
import { guardedDataConverter } from '../common/payload-guard.js';

/** One connection to Temporal, one client per environment namespace, all behind the metadata guard. */
export async function createTemporalClients(address: string, payloadLimitBytes: number) {
  const connection = await Connection.connect({ address });
  const clients = new Map<string, Client>();
  return {
    connection,
    forNamespace(namespace: string): Client {
      let client = clients.get(namespace);
      if (!client) {
        client = new Client({
          connection,
          namespace,
          dataConverter: guardedDataConverter(payloadLimitBytes),
        });
        clients.set(namespace, client);
      }
      return client;
    },
    close: () => connection.close(),
  };
}
export type TemporalClients = Awaited<ReturnType<typeof createTemporalClients>>;
