import postgres from 'postgres';
import { PG_DATABASE, PG_TEMPLATE_DATABASE, StackError, type Report, type StackPorts } from './config.js';
import { pgUrl, scramVerifier, type PgCredentials, type PgLogin } from './postgres-credentials.js';

/**
 * Roles and databases of the stack's cluster, set by its bootstrap superuser. The application's
 * privileges are not set here: they come from migration 0007, which runs as the owner.
 */

const DATABASES = [PG_DATABASE, PG_TEMPLATE_DATABASE] as const;
const ident = (name: string): string => `"${name.replaceAll('"', '""')}"`;

/** Runs `use` on a connection of its own; a failure names the step and the role, never a password. */
export async function asRole<T>(
  ports: StackPorts,
  login: PgLogin,
  database: string,
  what: string,
  use: (sql: postgres.Sql) => Promise<T>,
): Promise<T> {
  const sql = postgres(pgUrl(ports, login, database), {
    max: 1,
    connect_timeout: 10,
    onnotice: () => undefined,
  });
  try {
    return await use(sql);
  } catch (error) {
    const code = (error as { code?: string }).code;
    throw new StackError(
      `postgres: ${what} as ${login.user} on 127.0.0.1:${ports.postgres}/${database} failed${code ? ` (${code})` : ''}: ${(error as Error).message}; if this cluster is not the stack's (or its credentials were lost), run \`npm run stack -- down --purge\` or set TAVIO_PG_PORT=<port>`,
    );
  } finally {
    await sql.end({ timeout: 5 });
  }
}

/** Passwords and attributes of the three roles, the two databases, and who owns what; safe to repeat. */
export async function ensureRolesAndDatabases(
  ports: StackPorts,
  credentials: PgCredentials,
  report: Report,
): Promise<void> {
  const { admin, owner, app } = credentials;
  await asRole(ports, admin, 'postgres', 'setting roles and databases', async (sql) => {
    await sql.unsafe(`ALTER ROLE ${ident(admin.user)} PASSWORD '${scramVerifier(admin.password)}'`);
    for (const login of [owner, app]) await ensureLoginRole(sql, login);
    const existing = new Set(
      (await sql<{ datname: string }[]>`select datname from pg_database`).map((row) => row.datname),
    );
    for (const database of DATABASES) {
      if (!existing.has(database)) {
        report(`postgres: creating database ${database}, owned by ${owner.user}...`);
        const template = database === PG_TEMPLATE_DATABASE ? ' IS_TEMPLATE true' : '';
        await sql.unsafe(`CREATE DATABASE ${ident(database)} OWNER ${ident(owner.user)}${template}`);
      }
      await sql.unsafe(`ALTER DATABASE ${ident(database)} OWNER TO ${ident(owner.user)}`);
    }
  });
  for (const database of DATABASES) {
    await asRole(ports, admin, database, `handing ${database}'s objects to ${owner.user}`, (sql) =>
      sql.unsafe(handOver(owner.user)),
    );
  }
}

/** A role that signs in with its password and holds no power beyond what is granted to it. */
async function ensureLoginRole(sql: postgres.Sql, login: PgLogin): Promise<void> {
  const [found] = await sql`select 1 from pg_roles where rolname = ${login.user}`;
  if (!found) await sql.unsafe(`CREATE ROLE ${ident(login.user)}`);
  await sql.unsafe(
    `ALTER ROLE ${ident(login.user)} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD '${scramVerifier(login.password)}'`,
  );
}

/**
 * Gives the owner what another role created in the application's schemas: a cluster from before
 * the roles existed ran its migrations as the superuser. Sequences of a column follow their table.
 */
function handOver(owner: string): string {
  const to = `OWNER TO ${ident(owner)}`;
  const notOwner = `<> '${ident(owner).replaceAll("'", "''")}'::regrole`;
  return `DO $$
DECLARE
  statements text[];
  statement text;
BEGIN
  SELECT coalesce(array_agg(s), '{}') INTO statements FROM (
    SELECT format('ALTER SCHEMA %I ${to}', nspname) AS s FROM pg_namespace
      WHERE nspname = 'drizzle' AND nspowner ${notOwner}
    UNION ALL
    SELECT format('ALTER TABLE %I.%I ${to}', n.nspname, c.relname) FROM pg_class c
      JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname IN ('public', 'drizzle') AND c.relkind IN ('r', 'p', 'v') AND c.relowner ${notOwner}
    UNION ALL
    SELECT format('ALTER SEQUENCE %I.%I ${to}', n.nspname, c.relname) FROM pg_class c
      JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname IN ('public', 'drizzle') AND c.relkind = 'S' AND c.relowner ${notOwner}
        AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                          AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i'))
    UNION ALL
    SELECT format('ALTER TYPE %I.%I ${to}', n.nspname, t.typname) FROM pg_type t
      JOIN pg_namespace n ON n.oid = t.typnamespace
      WHERE n.nspname = 'public' AND t.typtype IN ('e', 'd') AND t.typowner ${notOwner}
    UNION ALL
    SELECT format('ALTER ROUTINE %s ${to}', p.oid::regprocedure) FROM pg_proc p
      JOIN pg_namespace n ON n.oid = p.pronamespace
      WHERE n.nspname = 'public' AND p.proowner ${notOwner}
  ) AS pending;
  FOREACH statement IN ARRAY statements LOOP
    EXECUTE statement;
  END LOOP;
END
$$`;
}
