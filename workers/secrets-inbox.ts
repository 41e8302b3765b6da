import { z } from 'zod';
import { initialWorkerSecretsSchema, workerSecretsSchema } from '../common/worker-secrets.js';
import type { InitialWorkerSecrets, WorkerSecrets } from '../common/worker-secrets.js';

const FIRST_SECRETS_TIMEOUT_MS = 30_000;

function parse<T>(schema: z.ZodType<T>, message: unknown): T {
  const parsed = schema.safeParse((message as { secrets?: unknown } | null)?.secrets);
  if (!parsed.success) throw new Error(`the host sent malformed secrets: ${z.prettifyError(parsed.error)}`);
  return parsed.data;
}

/**
 * The worker's end of its host's IPC channel: waits for the first credentials and token, then
 * keeps the newest of each. Messages that carry no secrets are ignored.
 */
export async function receiveSecrets(
  channel: NodeJS.Process,
  onUpdate: (update: WorkerSecrets) => void,
): Promise<InitialWorkerSecrets> {
  const first = await new Promise<unknown>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`no credentials from the host within ${FIRST_SECRETS_TIMEOUT_MS} ms`)),
      FIRST_SECRETS_TIMEOUT_MS,
    );
    channel.once('message', (message) => {
      clearTimeout(timer);
      resolve(message);
    });
  });
  const initial = parse(initialWorkerSecretsSchema, first);
  channel.on('message', (message: unknown) => {
    if (typeof message === 'object' && message !== null && 'secrets' in message)
      onUpdate(parse(workerSecretsSchema, message));
  });
  return initial;
}
