import type { Database } from '../db/client.js';
import { auditLog } from '../db/schema.js';

export interface AuditEntry {
  actorKeyId: string | null;
  action: string;
  organizationId?: string | null;
  environmentId?: string | null;
  target?: string;
  /** Identifiers and counts only. */
  details?: Record<string, unknown>;
}

type Writer = Pick<Database, 'insert'>;

/** Appends one control-plane action to the audit log (inside the caller's transaction when given one). */
export async function audit(db: Writer, entry: AuditEntry): Promise<void> {
  await db.insert(auditLog).values(entry);
}
