import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleWorkflowCode, DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { describe, expect, it } from 'vitest';
import { PayloadEncryptionCodec, fixedKeyRing } from '../../common/payload-encryption.js';
import { guardedDataConverter, DEFAULT_PAYLOAD_LIMIT_BYTES } from '../../common/payload-guard.js';
import { workflowTraceSinks } from '../../common/telemetry/worker-traces.js';
import { INTEGRATIONS as INTEGRATION_CATALOG } from '../../integrations/catalog.js';

Runtime.install({ logger: new DefaultLogger('WARN') });

/** The workflow bundle with its interceptors, as region hosts build it for their workers. */
let bundled: Promise<{ code: string }> | undefined;
const workflowBundle = () =>
  (bundled ??= bundleWorkflowCode({
    workflowsPath: fileURLToPath(new URL('../../workflows/index.ts', import.meta.url)),
    workflowInterceptorModules: [fileURLToPath(new URL('../../workflows/interceptors.ts', import.meta.url))],
    logger: new DefaultLogger('WARN'),
  }));

/**
 * Each integration's recorded histories, in its own folder (`integrations/<name>/histories/`), and
 * those of the workflows that are not integrations (the retention sweep: `workflows/histories/`).
 */
const INTEGRATIONS = fileURLToPath(new URL('../../integrations/', import.meta.url));
const folders = [
  ...readdirSync(INTEGRATIONS, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && existsSync(join(INTEGRATIONS, entry.name, 'histories')))
    .map((entry) => join(INTEGRATIONS, entry.name, 'histories')),
  fileURLToPath(new URL('../../workflows/histories', import.meta.url)),
].filter((folder) => existsSync(folder));
const located = new Map(
  folders.flatMap((folder) =>
    readdirSync(folder)
      .filter((file) => /-\d+\.json$/.test(file))
      .map((file) => [file, folder] as const),
  ),
);
const files = [...located.keys()].sort();
const pathOf = (file: string) => join(located.get(file) ?? '', file);

/**
 * The payload key a recording was sealed under (`<recording>.payload-key.json`, written by
 * `npm run histories:record`); recordings made before payloads were sealed have none.
 */
function codecFor(file: string): PayloadEncryptionCodec {
  const keyFile = pathOf(file).replace(/-\d+\.json$/, '.payload-key.json');
  try {
    const { namespace, id, key } = JSON.parse(readFileSync(keyFile, 'utf8')) as Record<string, string>;
    return new PayloadEncryptionCodec(
      namespace!,
      fixedKeyRing([{ id: id!, key: Buffer.from(key!, 'base64') }]),
    );
  } catch {
    return new PayloadEncryptionCodec('plain', fixedKeyRing([{ id: randomUUID(), key: randomBytes(32) }]));
  }
}

const sealed = (file: string) => readFileSync(pathOf(file), 'utf8').includes('YmluYXJ5L2VuY3J5cHRlZA==');

/** Every workflow change must replay the committed histories of real runs (re-record: npm run histories:record). */
describe('replay of committed histories', () => {
  it('has histories to replay, of every integration, one continue-as-new chain at least, and sealed ones among them', () => {
    expect(files.length).toBeGreaterThanOrEqual(2);
    for (const workflow of [...Object.keys(INTEGRATION_CATALOG), 'retention-sweep', 'webhook-delivery'])
      expect(files.some((file) => file.startsWith(`${workflow}-`))).toBe(true);
    expect(files.filter(sealed).length).toBeGreaterThanOrEqual(2);
  });

  it('has histories of runs whose activities were retried, failed for good, and canceled', () => {
    const events = files.map(
      (file) =>
        (JSON.parse(readFileSync(pathOf(file), 'utf8')) as { events: Array<Record<string, unknown>> }).events,
    );
    const attempt = (event: Record<string, unknown>) =>
      (event.activityTaskStartedEventAttributes as { attempt?: number } | undefined)?.attempt ?? 0;
    const has = (type: string) => events.some((history) => history.some((event) => event.eventType === type));
    expect(events.some((history) => history.some((event) => attempt(event) > 1))).toBe(true);
    expect(has('EVENT_TYPE_ACTIVITY_TASK_FAILED')).toBe(true);
    expect(has('EVENT_TYPE_ACTIVITY_TASK_CANCEL_REQUESTED')).toBe(true);
    expect(has('EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED')).toBe(true);
  });

  it.each(files)('replays %s without nondeterminism', async (file) => {
    const history: unknown = JSON.parse(readFileSync(pathOf(file), 'utf8'));
    await expect(
      Worker.runReplayHistory(
        {
          // The bundle workers run, built once for every history.
          workflowBundle: await workflowBundle(),
          dataConverter: guardedDataConverter(DEFAULT_PAYLOAD_LIMIT_BYTES, codecFor(file)),
          // The workflows' trace spans go to a sink, as on a worker that does not trace.
          sinks: workflowTraceSinks(undefined),
        },
        history,
        file,
      ),
    ).resolves.toBeUndefined();
  });
});
