import { loadControlApiConfig } from '../common/config.js';
import { stackUp } from './stack/services.js';
import { startPlatform } from './platform.js';
import { runDemo } from './demo-scenario.js';

/**
 * `npm start`: the stack, the control API on port 8080 (TAVIO_API_PORT), a worker host per region,
 * and a demo organization whose environments in two regions each run the sample integration.
 * Stays up until Ctrl-C.
 */
const stack = await stackUp();
const platform = await startPlatform(stack, { port: loadControlApiConfig().port });
console.log(`\ncontrol API  ${platform.api.url}  (OpenAPI: ${platform.api.url}/openapi.json)`);
console.log(`operator key ${platform.operatorKey}  (revoked when this process stops)`);
console.log(`Temporal UI  ${stack.temporalUiUrl}\n`);
const demo = await runDemo(platform, ['us', 'eu']);
console.log('\nrun summary');
for (const run of demo.runs) {
  console.log(
    `  ${run.namespace.padEnd(36)} ${run.taskQueue}  ${run.status.padEnd(9)} ${run.recordsRead} read, ${run.recordsWritten} written  ${run.webUiUrl}`,
  );
}
console.log('\nTavio is up. Ctrl-C stops the platform (the stack stays up: npm run stack -- down).');

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  console.log('\nstopping...');
  await demo.close();
  await platform.stop();
  process.exit(0);
};
process.once('SIGINT', () => void stop());
process.once('SIGTERM', () => void stop());
