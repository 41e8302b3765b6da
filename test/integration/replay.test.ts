import { randomBytes, randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { describe, expect, it } from 'vitest';
import { PayloadEncryptionCodec, fixedKeyRing } from '../../common/payload-encryption.js';
import { guardedDataConverter, DEFAULT_PAYLOAD_LIMIT_BYTES } from '../../common/payload-guard.js';

Runtime.install({ logger: new DefaultLogger('WARN') });

const HISTORIES = fileURLToPath(new URL('../histories/', import.meta.url));
const files = readdirSync(HISTORIES).filter((file) => /-\d+\.json$/.test(file));

/**
 * The payload key a recording was sealed under (`<recording>.payload-key.json`, written by
 * `npm run histories:record`); recordings made before payloads were sealed have none.
 */
function codecFor(file: string): PayloadEncryptionCodec {
  const keyFile = `${HISTORIES}${file.replace(/-\d+\.json$/, '.payload-key.json')}`;
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

const sealed = (file: string) =>
  readFileSync(`${HISTORIES}${file}`, 'utf8').includes('YmluYXJ5L2VuY3J5cHRlZA==');

/** Every workflow change must replay the committed histories of real runs (re-record: npm run histories:record). */
describe('replay of committed histories', () => {
  it('has histories to replay, one continue-as-new chain at least, and sealed ones among them', () => {
    expect(files.length).toBeGreaterThanOrEqual(2);
    expect(files.filter(sealed).length).toBeGreaterThanOrEqual(2);
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
          dataConverter: guardedDataConverter(DEFAULT_PAYLOAD_LIMIT_BYTES, codecFor(file)),
          bundlerOptions: { ignoreModules: [] },
        },
        history,
        file,
      ),
    ).resolves.toBeUndefined();
  });
});
