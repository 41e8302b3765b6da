import { and, eq, gte } from 'drizzle-orm';
import { z } from 'zod';
import type { Database } from '../../db/client.js';
import { environments } from '../../db/schema.js';

/** What a region host confirms about an environment's stopped worker, each checked on the host itself. */
export const workerReleaseSchema = z
  .object({
    /** The worker's OS user; null where the host runs workers without a sandbox (not as root). */
    osUser: z.string().max(32).nullable(),
    osUserRemoved: z.boolean(),
    networkRulesRemoved: z.boolean(),
    gatewayCredentialsRevoked: z.boolean(),
  })
  .strict();
export type WorkerRelease = z.infer<typeof workerReleaseSchema>;

/** How long retirement waits for the region host to stop the worker and confirm it. */
const CONFIRMATION_WAIT_MS = 20_000;
const POLL_MS = 250;

/**
 * Waits until the environment's region host confirms, after `since`, that its worker is gone.
 * The host notices within its poll interval that the environment is no longer active, stops the
 * worker and reports. Undefined when no confirmation came in time (the host is down, or had no
 * worker of it).
 */
export async function awaitWorkerRelease(
  db: Database,
  environmentId: string,
  since: Date,
  waitMs = CONFIRMATION_WAIT_MS,
): Promise<(WorkerRelease & { at: string }) | undefined> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const [row] = await db
      .select({ at: environments.workerReleasedAt, release: environments.workerRelease })
      .from(environments)
      .where(and(eq(environments.id, environmentId), gte(environments.workerReleasedAt, since)));
    if (row?.at) return { ...workerReleaseSchema.parse(row.release), at: row.at.toISOString() };
    if (Date.now() > deadline) return undefined;
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}
