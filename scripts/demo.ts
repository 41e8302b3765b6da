import { stackUp } from './stack/services.js';
import { startPlatform } from './platform.js';
import { runDemo } from './demo-scenario.js';

/**
 * One-shot demo: brings the stack up (and leaves it up), starts the platform, runs the sample
 * integration in environments of two regions, stops the platform. The last stdout line is JSON.
 */
const stack = await stackUp();
process.stderr.write('demo: starting the control API and a worker host per region\n');
const platform = await startPlatform(stack);
let exitCode = 0;
try {
  const demo = await runDemo(platform, ['us', 'eu']);
  await demo.close();
  exitCode = demo.runs.every((run) => run.status === 'completed') ? 0 : 1;
  const runs = demo.runs.map(({ webUiUrl: _url, durationMs: _ms, ...run }) => run);
  process.stdout.write(`${JSON.stringify({ controlApi: platform.api.url, webUi: stack.webUiUrl, runs })}\n`);
} finally {
  await platform.stop();
}
process.exit(exitCode);
