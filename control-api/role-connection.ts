import { and, eq } from 'drizzle-orm';
import type { Database } from '../db/client.js';
import { connections } from '../db/schema.js';
import type { environments } from '../db/schema.js';
import { unprocessable } from './problems.js';

/**
 * The environment's connection `id` for a role, which must be of `kind`. A connection of another
 * environment answers exactly as one that does not exist (422 `unknown-connection`).
 */
export async function roleConnection(
  db: Pick<Database, 'select'>,
  env: typeof environments.$inferSelect,
  role: string,
  kind: string,
  id: string,
) {
  const [row] = /^[0-9a-f-]{36}$/.test(id)
    ? await db
        .select()
        .from(connections)
        .where(and(eq(connections.id, id), eq(connections.environmentId, env.id)))
    : [];
  if (!row) throw unprocessable('unknown-connection', `connection ${id} does not exist in this environment`);
  if (row.kind !== kind)
    throw unprocessable(
      'wrong-connection-kind',
      `connection ${role} must be of kind ${kind}, not ${row.kind}`,
    );
  return row;
}
