import type { ControlApiConfig } from '../common/config.js';
import { migrateDatabase, openDatabase } from '../db/client.js';
import { buildApp } from './app.js';
import { ensureOperatorKey } from './operator-key.js';
import { createAccountAccess } from './provisioning/account-access.js';
import { createSigningKeys } from './temporal-auth/signing-keys.js';
import { createControlPlaneTokens } from './temporal-auth/tokens.js';
import { createTemporalClients } from './temporal-clients.js';

/** Opens everything the control API needs, migrates the database, and builds the app. */
export async function startControlApi(config: ControlApiConfig, logger: boolean | object = false) {
  await migrateDatabase(config.databaseUrl);
  const database = openDatabase(config.databaseUrl);
  const tokenTtlMs = config.temporalTokenTtlSeconds * 1000;
  const signingKeys = createSigningKeys(database.db, {
    publishLeadMs: config.temporalKeyPublishLeadSeconds * 1000,
    maxTokenTtlMs: tokenTtlMs,
  });
  const tokenFor = createControlPlaneTokens(signingKeys, tokenTtlMs);
  const temporal = await createTemporalClients(config.temporalAddress, config.payloadLimitBytes, tokenFor);
  const regions = Object.values(config.regions);
  const accounts = createAccountAccess({
    endpointFor: (awsRegion) => regions.find((region) => region.awsRegion === awsRegion)?.awsEndpoint,
    credentials: config.aws,
    controlAccountId: config.controlAccountId,
    vendAccounts: config.accountFactory === 'emulator',
  });
  const generatedOperatorKey = await ensureOperatorKey(database.db, config.operatorKey);
  const app = await buildApp({ db: database.db, temporal, accounts, config, signingKeys }, logger);
  await app.listen({ host: config.host, port: config.port });
  // Temporal reads the signing keys from this API's JWKS: serve it first, then wait until it is trusted.
  await temporal.waitUntilTrusted();
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  return {
    app,
    db: database.db,
    url: `http://${config.host}:${port}`,
    generatedOperatorKey,
    async close() {
      await app.close();
      await temporal.close();
      accounts.destroy();
      await database.close();
    },
  };
}
export type ControlApi = Awaited<ReturnType<typeof startControlApi>>;
