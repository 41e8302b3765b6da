import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { describe, expect, it } from 'vitest';
import { guardedDataConverter, DEFAULT_PAYLOAD_LIMIT_BYTES } from '../../common/payload-guard.js';

Runtime.install({ logger: new DefaultLogger('WARN') });

const HISTORIES = fileURLToPath(new URL('../histories/', import.meta.url));
const files = readdirSync(HISTORIES).filter((file) => file.endsWith('.json'));

/** Every workflow change must replay the committed histories of real runs (re-record: npm run histories:record). */
describe('replay of committed histories', () => {
  it('has histories to replay, one continue-as-new chain at least', () => {
    expect(files.length).toBeGreaterThanOrEqual(2);
  });

  it.each(files)('replays %s without nondeterminism', async (file) => {
    const history: unknown = JSON.parse(readFileSync(`${HISTORIES}${file}`, 'utf8'));
    await expect(
      Worker.runReplayHistory(
        {
          workflowsPath: fileURLToPath(new URL('../../workflows/index.ts', import.meta.url)),
          interceptors: {
            workflowModules: [fileURLToPath(new URL('../../workflows/interceptors.ts', import.meta.url))],
          },
          dataConverter: guardedDataConverter(DEFAULT_PAYLOAD_LIMIT_BYTES),
          bundlerOptions: { ignoreModules: [] },
        },
        history,
        file,
      ),
    ).resolves.toBeUndefined();
  });
});
