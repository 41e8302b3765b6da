import { and, asc, desc, eq, max } from 'drizzle-orm';
import type { Database } from '../db/client.js';
import { transactionLock } from '../db/locks.js';
import { fieldMappings } from '../db/schema.js';
import type { environments } from '../db/schema.js';
import { hrisEmployeeSyncDefinition } from '../integrations/hris-employee-sync/definition.js';
import { checkDeclaredFields } from '../integrations/hris-employee-sync/declared-mapping.js';
import type { DeclaredFields, DeclaredMapping } from '../integrations/hris-employee-sync/declared-mapping.js';
import { audit } from './audit.js';
import { assertEnvironmentActive, unprocessable } from './problems.js';
import { roleConnection } from './role-connection.js';

type Env = typeof environments.$inferSelect;
type MappingRow = typeof fieldMappings.$inferSelect;
type Reader = Pick<Database, 'select'>;

/** A connection pair: the source and destination connections' ids. */
export interface MappingPair {
  source: string;
  destination: string;
}

export interface SaveMappingRequest extends MappingPair {
  fields: unknown;
}

/** A mapping version as the API shows it: names, paths and rules, never a record's values. */
export function mappingView(row: MappingRow) {
  return {
    source: row.sourceConnectionId,
    destination: row.destinationConnectionId,
    version: row.version,
    fields: row.fields as DeclaredFields,
    createdAt: row.createdAt.toISOString(),
  };
}

/** Problems named in a 422's detail: the first few, and how many more there are. */
const SHOWN_PROBLEMS = 8;

function invalidMapping(problems: string[]) {
  const more = problems.length - SHOWN_PROBLEMS;
  return unprocessable(
    'invalid-mapping',
    `${problems.slice(0, SHOWN_PROBLEMS).join('; ')}${more > 0 ? `; and ${more} more` : ''}`,
  );
}

/**
 * Checks that both connections are this environment's, of the kinds hris-employee-sync takes for
 * its roles. One of another environment answers exactly as one that does not exist.
 */
async function assertPair(db: Reader, env: Env, pair: MappingPair): Promise<void> {
  for (const [role, kind] of Object.entries(hrisEmployeeSyncDefinition.connections)) {
    await roleConnection(db, env, role, kind, pair[role as keyof MappingPair]);
  }
}

/**
 * Saves the next version of a pair's mapping, after validating it; concurrent saves for one pair
 * take turns (an advisory lock), so that no version is given twice. Audited with the pair and
 * version, never the rules.
 */
export async function saveMapping(
  db: Database,
  env: Env,
  orgSlug: string,
  request: SaveMappingRequest,
  actorKeyId: string,
): Promise<MappingRow> {
  assertEnvironmentActive(orgSlug, env);
  const checked = checkDeclaredFields(request.fields);
  if (checked.problems) throw invalidMapping(checked.problems);
  await assertPair(db, env, request);
  return db.transaction(async (tx) => {
    await transactionLock(tx, `field-mapping:${request.source}:${request.destination}`);
    const [latest] = await tx
      .select({ version: max(fieldMappings.version) })
      .from(fieldMappings)
      .where(pairIs(env.id, request));
    const version = (latest?.version ?? 0) + 1;
    const [row] = await tx
      .insert(fieldMappings)
      .values({
        environmentId: env.id,
        sourceConnectionId: request.source,
        destinationConnectionId: request.destination,
        version,
        fields: checked.fields,
        createdByKeyId: actorKeyId,
      })
      .returning();
    await audit(tx, {
      actorKeyId,
      action: 'mapping.saved',
      organizationId: env.organizationId,
      environmentId: env.id,
      target: `${request.source}->${request.destination}`,
      details: { source: request.source, destination: request.destination, version },
    });
    return row!;
  });
}

function pairIs(environmentId: string, pair: MappingPair) {
  return and(
    eq(fieldMappings.environmentId, environmentId),
    eq(fieldMappings.sourceConnectionId, pair.source),
    eq(fieldMappings.destinationConnectionId, pair.destination),
  );
}

/** The pair's mapping in force: its newest version; undefined when it has none. */
export async function currentMapping(
  db: Reader,
  environmentId: string,
  pair: MappingPair,
): Promise<MappingRow | undefined> {
  const [row] = await db
    .select()
    .from(fieldMappings)
    .where(pairIs(environmentId, pair))
    .orderBy(desc(fieldMappings.version))
    .limit(1);
  return row;
}

/** One version of the pair's mapping. */
export async function mappingVersion(
  db: Reader,
  environmentId: string,
  pair: MappingPair,
  version: number,
): Promise<MappingRow | undefined> {
  const [row] = await db
    .select()
    .from(fieldMappings)
    .where(and(pairIs(environmentId, pair), eq(fieldMappings.version, version)));
  return row;
}

/** Each pair of the environment that has a mapping, with its mapping in force. */
export async function currentMappings(db: Database, environmentId: string): Promise<MappingRow[]> {
  return db
    .selectDistinctOn([fieldMappings.sourceConnectionId, fieldMappings.destinationConnectionId])
    .from(fieldMappings)
    .where(eq(fieldMappings.environmentId, environmentId))
    .orderBy(
      asc(fieldMappings.sourceConnectionId),
      asc(fieldMappings.destinationConnectionId),
      desc(fieldMappings.version),
    );
}

/** What a run of the pair carries: the mapping in force (version and rules), or undefined. */
export async function mappingForRun(
  db: Reader,
  environmentId: string,
  pair: MappingPair,
): Promise<DeclaredMapping | undefined> {
  const row = await currentMapping(db, environmentId, pair);
  return row ? { version: row.version, fields: row.fields as DeclaredFields } : undefined;
}
