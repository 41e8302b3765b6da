import { and, eq } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { environments } from '../../db/schema.js';
import type { Principal } from '../auth.js';
import { SYSTEM_NAMESPACE, permission } from './tokens.js';

/** The active namespaces a key covers in an organization: its own environment's, or all of them. */
export async function activeNamespaces(
  db: Database,
  scope: { organizationId: string; environmentId?: string | null; environmentSlug?: string },
): Promise<string[]> {
  const rows = await db
    .select({ namespace: environments.namespace })
    .from(environments)
    .where(
      and(
        eq(environments.organizationId, scope.organizationId),
        eq(environments.status, 'active'),
        ...(scope.environmentId ? [eq(environments.id, scope.environmentId)] : []),
        ...(scope.environmentSlug ? [eq(environments.slug, scope.environmentSlug)] : []),
      ),
    );
  return rows.map((row) => row.namespace).sort();
}

/**
 * What a person signed in to the Web UI may do in Temporal: an operator administers the cluster;
 * an organization or environment key reads its own active namespaces and nothing else.
 */
export async function webUiPermissions(db: Database, principal: Principal): Promise<string[]> {
  if (principal.kind === 'operator') return [permission(SYSTEM_NAMESPACE, 'admin')];
  if (!principal.organizationId || principal.kind === 'host') return [];
  const namespaces = await activeNamespaces(db, {
    organizationId: principal.organizationId,
    environmentId: principal.environmentId,
  });
  return namespaces.map((namespace) => permission(namespace, 'read'));
}
