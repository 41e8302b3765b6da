import { stackUp } from './stack/services.js';
import { startPlatform } from './platform.js';
import { runDemo } from './demo-scenario.js';

/**
 * One-shot demo: brings the stack up (and leaves it up), starts the platform, runs the sample
 * integration in environments of two regions (and, with the stack's SFTP server, a managed file
 * transfer in each), stops the platform. The last stdout line is JSON.
 */
const stack = await stackUp();
process.stderr.write('demo: starting the control API and a worker host per region\n');
const platform = await startPlatform(stack);
let exitCode = 0;
try {
  const demo = await runDemo(platform, ['us', 'eu'], { sftp: stack.sftp });
  await demo.close();
  exitCode = [...demo.runs, ...demo.transfers].every((run) => run.status === 'completed') ? 0 : 1;
  const runs = demo.runs.map(({ webUiUrl: _url, durationMs: _ms, ...run }) => run);
  process.stdout.write(
    `${JSON.stringify({ controlApi: platform.api.url, webUi: stack.webUiUrl, runs, transfers: demo.transfers })}\n`,
  );
} finally {
  await platform.stop();
}
process.exit(exitCode);
