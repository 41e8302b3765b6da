import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import {
  PG_ADMIN_ROLE,
  PG_APP_ROLE,
  PG_OWNER_ROLE,
  StackError,
  displayPath,
  type StackPaths,
  type StackPorts,
} from './config.js';
import { writePrivateFile } from './private-files.js';

const loginSchema = z.object({ user: z.string().min(1), password: z.string().min(16) });
const credentialsSchema = z.object({
  /** The bootstrap superuser: the stack script creates databases and roles with it, nothing else uses it. */
  admin: loginSchema,
  /** Owns the databases and everything migrations create. */
  owner: loginSchema,
  /** The control API's role. */
  app: loginSchema,
});
export type PgLogin = z.infer<typeof loginSchema>;
export type PgCredentials = z.infer<typeof credentialsSchema>;

export const credentialsFile = (paths: StackPaths): string =>
  join(paths.stackDir, 'postgres-credentials.json');

export function readPgCredentials(paths: StackPaths): PgCredentials | undefined {
  const file = credentialsFile(paths);
  if (!existsSync(file)) return undefined;
  const parsed = credentialsSchema.safeParse(JSON.parse(readFileSync(file, 'utf8')));
  if (!parsed.success) {
    throw new StackError(
      `postgres: ${displayPath(file)} is not a credentials file this stack wrote (${z.prettifyError(parsed.error)}); run \`npm run stack -- down --purge\` to start over`,
    );
  }
  return parsed.data;
}

/** New passwords for the three roles; `adminUser` is the cluster's bootstrap superuser. */
export function newPgCredentials(adminUser: string = PG_ADMIN_ROLE): PgCredentials {
  // base64url keeps them free of characters SASLprep would change or URLs would need escaped.
  const login = (user: string): PgLogin => ({ user, password: randomBytes(24).toString('base64url') });
  return { admin: login(adminUser), owner: login(PG_OWNER_ROLE), app: login(PG_APP_ROLE) };
}

export function writePgCredentials(paths: StackPaths, credentials: PgCredentials): void {
  writePrivateFile(credentialsFile(paths), `${JSON.stringify(credentials, null, 2)}\n`);
}

/** A connection URL on the stack's cluster; user and password are percent-encoded. */
export function pgUrl(ports: StackPorts, login: PgLogin, database: string): string {
  const user = encodeURIComponent(login.user);
  return `postgres://${user}:${encodeURIComponent(login.password)}@127.0.0.1:${ports.postgres}/${database}`;
}

/**
 * The SCRAM-SHA-256 verifier PostgreSQL stores for a password (RFC 5802/7677). Sending the verifier
 * instead of the password keeps the password out of the server's logs and statement statistics.
 */
export function scramVerifier(password: string, salt: Buffer = randomBytes(16), iterations = 4096): string {
  const salted = pbkdf2Sync(password, salt, iterations, 32, 'sha256');
  const hmac = (key: Buffer, text: string) => createHmac('sha256', key).update(text).digest();
  const storedKey = createHash('sha256').update(hmac(salted, 'Client Key')).digest();
  const serverKey = hmac(salted, 'Server Key');
  const b64 = (bytes: Buffer) => bytes.toString('base64');
  return `SCRAM-SHA-256$${iterations}:${b64(salt)}$${b64(storedKey)}:${b64(serverKey)}`;
}
