import { loadControlApiConfig } from '../common/config.js';
import { startControlApi } from './platform.js';

/** Control API process entry point. */
const config = loadControlApiConfig();
const api = await startControlApi(config, { level: config.logLevel });
if (api.generatedOperatorKey) {
  // Shown once; only its hash is stored.
  process.stdout.write(`operator key (shown once, store it now): ${api.generatedOperatorKey}\n`);
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => void api.close().then(() => process.exit(0)));
}
