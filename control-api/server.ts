import { loadControlApiConfig } from '../common/config.js';
import { startControlApi } from './platform.js';

/** Control API process entry point. */
const config = loadControlApiConfig();
const api = await startControlApi(config, { level: config.logLevel });
if (api.generatedOperatorKey) {
  // Shown once; only its hash is stored.
  process.stdout.write(`operator key (shown once, store it now): ${api.generatedOperatorKey}\n`);
}
api.trusted.then(
  () => process.stdout.write("Temporal accepts this API's tokens\n"),
  (error: Error) =>
    process.stderr.write(
      `warning: ${error.message}; point Temporal's JWKS (global.authorization.jwtKeyProvider) at ${api.url}/.well-known/jwks.json\n`,
    ),
);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => void api.close().then(() => process.exit(0)));
}
