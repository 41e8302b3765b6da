import { randomBytes } from 'node:crypto';
import { eq } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { webUiSessions } from '../../db/schema.js';
import { hashSecret, matchesHash } from '../keys.js';

export const SESSION_COOKIE = 'tavio_ui_session';
const SESSION_MS = 8 * 3600_000;
const COOKIE_PATTERN = /^([0-9a-f-]{36})\.([A-Za-z0-9_-]{43})$/;

/** Web UI sessions: the cookie holds `<id>.<secret>`; the database keeps the secret's hash and the key. */
export function createSessions(db: Database) {
  return {
    async open(keyId: string): Promise<{ cookie: string; expiresAt: Date }> {
      const secret = randomBytes(32).toString('base64url');
      const expiresAt = new Date(Date.now() + SESSION_MS);
      const [row] = await db
        .insert(webUiSessions)
        .values({ keyId, secretHash: hashSecret(secret), expiresAt })
        .returning({ id: webUiSessions.id });
      return { cookie: `${row!.id}.${secret}`, expiresAt };
    },

    /** The session's id and key when the cookie names a live session; undefined otherwise. */
    async resolve(cookie: string | undefined): Promise<{ id: string; keyId: string } | undefined> {
      const match = COOKIE_PATTERN.exec(cookie ?? '');
      if (!match) return undefined;
      const [row] = await db.select().from(webUiSessions).where(eq(webUiSessions.id, match[1]!));
      if (!row || !matchesHash(match[2]!, row.secretHash) || row.expiresAt <= new Date()) return undefined;
      return { id: row.id, keyId: row.keyId };
    },

    async close(id: string): Promise<void> {
      await db.update(webUiSessions).set({ expiresAt: new Date() }).where(eq(webUiSessions.id, id));
    },
  };
}
export type Sessions = ReturnType<typeof createSessions>;
