import { loadControlApiConfig } from '../common/config.js';
import { loggerOptions } from '../common/telemetry/logging.js';
import { startTracing, TRACE_SERVICE } from '../common/telemetry/tracing.js';
import { startControlApi } from './platform.js';

/** Control API process entry point. */
// Tracing first: the API's requests and Temporal calls are traced from the start when configured.
const tracing = startTracing(TRACE_SERVICE.controlApi);
const config = loadControlApiConfig();
const api = await startControlApi(config, loggerOptions(config.logLevel));
if (api.generatedOperatorKey) {
  // Shown once, on the terminal's error stream rather than in the log; only its hash is stored.
  process.stderr.write(`operator key (shown once, store it now): ${api.generatedOperatorKey}\n`);
}
// Standard output carries the JSON log only.
api.trusted.then(
  () => api.app.log.info("Temporal accepts this API's tokens"),
  (error: Error) =>
    api.app.log.warn(
      `${error.message}; point Temporal's JWKS (global.authorization.jwtKeyProvider) at ${api.url}/.well-known/jwks.json`,
    ),
);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(
    signal,
    () =>
      void api
        .close()
        .then(() => tracing?.shutdown())
        .then(() => process.exit(0)),
  );
}
