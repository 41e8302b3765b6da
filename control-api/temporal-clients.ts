import { Client, Connection } from '@temporalio/client';
import { PayloadEncryptionCodec } from '../common/payload-encryption.js';
import { guardedDataConverter } from '../common/payload-guard.js';
import type { NamespaceProviderConfig } from '../common/config.js';
import { temporalConnectOptions } from '../common/temporal-connection.js';
import type { TemporalConnectionSettings } from '../common/temporal-connection.js';
import { namespaceProviderOf } from './provisioning/namespaces/select.js';
import { temporalClientTracing } from '../common/telemetry/api-traces.js';
import type { PayloadKeys } from './payload-keys.js';
import type { ControlPlaneTokens, TemporalRole } from './temporal-auth/tokens.js';

/** Not a namespace slugs can spell (no underscore in a slug): its token grants nothing, it only proves the signature is trusted. */
const SYSTEM_PROBE = '_tavio_probe';

/**
 * One connection to Temporal, one client per environment namespace, all behind the metadata guard.
 * Under `tavio-tokens`, every call carries a token for the namespace it concerns and the role that
 * call path needs, so Temporal itself refuses the control plane anything else; under `static`, the
 * connection's own API key or client certificate authorizes every call.
 */
export async function createTemporalClients(
  settings: TemporalConnectionSettings,
  payloadLimitBytes: number,
  tokenFor: ControlPlaneTokens,
  payloadKeys: PayloadKeys,
  namespaceProvider: NamespaceProviderConfig = { kind: 'self-hosted' },
) {
  const connection = await Connection.connect(temporalConnectOptions(settings));
  const clients = new Map<string, Client>();
  function clientOf(namespace: string): Client {
    let client = clients.get(namespace);
    if (!client) {
      const encryption = new PayloadEncryptionCodec(namespace, payloadKeys.ringOf(namespace));
      client = new Client({
        connection,
        namespace,
        dataConverter: guardedDataConverter(payloadLimitBytes, encryption),
        interceptors: temporalClientTracing(),
      });
      clients.set(namespace, client);
    }
    return client;
  }
  async function as<T>(namespace: string, role: TemporalRole, work: () => Promise<T>): Promise<T> {
    if (settings.auth === 'static') return work();
    const token = await tokenFor(namespace, role);
    return connection.withApiKey(token, work);
  }
  function administer<T>(namespace: string, work: (connection: Connection) => Promise<T>): Promise<T> {
    return as(namespace, 'admin', () => work(connection));
  }
  const namespaces = namespaceProviderOf(namespaceProvider, administer);
  return {
    /** Runs `work` with the namespace's client, its calls authorized for that namespace and role only. */
    async inNamespace<T>(
      namespace: string,
      role: 'read' | 'write',
      work: (client: Client) => Promise<T>,
    ): Promise<T> {
      // A write encodes payloads: the namespace's payload key is loaded (a database read the first
      // time) before `work` runs, as its token is, since `work` may hold a database transaction.
      // Reads decode only what they fetch, and load the key when they meet a payload.
      if (role === 'write')
        await payloadKeys
          .ringOf(namespace)
          .current()
          .catch(() => undefined);
      return as(namespace, role, () => work(clientOf(namespace)));
    },
    /** Namespace administration (register, search attributes, delete) with an admin token of that namespace only. */
    administer,
    /** Creates, adjusts and deletes environments' namespaces (`TAVIO_NAMESPACE_PROVIDER`). */
    namespaces: namespaces.provider,
    /**
     * Waits until Temporal accepts this API's tokens: it loads the signing keys from the JWKS this
     * API serves, so the first start waits one refresh of Temporal's key cache.
     */
    async waitUntilTrusted(timeoutMs = 60_000): Promise<void> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        try {
          await as(SYSTEM_PROBE, 'read', () => connection.workflowService.getSystemInfo({}));
          return;
        } catch (error) {
          if (Date.now() > deadline)
            throw new Error(`Temporal did not accept the control API's tokens within ${timeoutMs} ms`, {
              cause: error,
            });
          await new Promise((resolve) => setTimeout(resolve, 250));
        }
      }
    },
    async close() {
      namespaces.close();
      await connection.close();
    },
  };
}
export type TemporalClients = Awaited<ReturnType<typeof createTemporalClients>>;
