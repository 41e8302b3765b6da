import { stackUp } from './stack/services.js';
import { startPlatform } from './platform.js';
import { createTavioClient } from '../control-api/client.js';
import { runDemo } from './demo-scenario.js';
import { startTracing, TRACE_SERVICE } from '../common/telemetry/tracing.js';

/**
 * `npm start`: the stack, the control API on port 8080 (TAVIO_API_PORT), a worker host per region,
 * and a demo organization whose environments in two regions each run the sample integration.
 * Stays up until Ctrl-C.
 */
// The control API runs in this process: traced when OTEL_EXPORTER_OTLP_ENDPOINT is set, as its hosts are.
const tracing = startTracing(TRACE_SERVICE.controlApi);
const stack = await stackUp();
// The API's warnings and errors (an unexpected 500 with its request id) go to this console.
const platform = await startPlatform(stack, { apiLogs: true });
console.log(`\ncontrol API  ${platform.api.url}  (OpenAPI: ${platform.api.url}/openapi.json)`);
console.log(`operator key ${platform.operatorKey}  (revoked when this process stops)`);
console.log(`Web UI       ${stack.webUiUrl}  (sign in with an API key)\n`);
const demo = await runDemo(platform, ['us', 'eu'], { sftp: stack.sftp });
console.log('\nrun summary');
for (const run of demo.runs) {
  console.log(
    `  ${run.namespace.padEnd(36)} ${run.taskQueue}  ${run.status.padEnd(9)} ${run.recordsRead} read, ${run.recordsWritten} written  ${run.webUiUrl}`,
  );
}
for (const transfer of demo.transfers) {
  console.log(
    `  ${transfer.environment.padEnd(36)} sftp-file-transfer  ${transfer.status.padEnd(9)} ${transfer.files} file, ${transfer.bytes} bytes -> ${transfer.delivered.join(', ')}`,
  );
}
const admin = createTavioClient({ baseUrl: platform.api.url, apiKey: demo.adminKey });
const [first] = demo.runs;
const cliToken = await admin.createTemporalToken(demo.organization);
console.log(`
Temporal Web UI: open ${stack.webUiUrl}/login and sign in with the demo organization's admin key
  ${demo.adminKey}
  It shows ${demo.organization}'s namespaces only; the operator key above shows every organization's.
Temporal CLI: tokens come from POST /v1/organizations/{org}/temporal-tokens (read-only, ${Math.round(
  (Date.parse(cliToken.expiresAt) - Date.now()) / 60_000,
)} minutes), e.g.
  temporal workflow list --address ${stack.temporalAddress} --tls=false --namespace ${first?.namespace ?? '<namespace>'} \\
    --api-key ${cliToken.token}`);
console.log('\nTavio is up. Ctrl-C stops the platform (the stack stays up: npm run stack -- down).');

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  console.log('\nstopping...');
  await demo.close();
  await platform.stop();
  await tracing?.shutdown();
  process.exit(0);
};
process.once('SIGINT', () => void stop());
process.once('SIGTERM', () => void stop());
