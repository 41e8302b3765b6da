import { randomUUID } from 'node:crypto';
import { and, asc, eq, sql } from 'drizzle-orm';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import ssh2 from 'ssh2';
import { z } from 'zod';
import { connections } from '../../db/schema.js';
import { CONNECTION_KINDS, CONNECTION_SCHEMES, credentialSchemas } from '../../common/connections.js';
import type { ConnectionKind } from '../../common/connections.js';
import { audit } from '../audit.js';
import { principalOf, visibleEnvironment } from '../auth.js';
import type { ApiDeps } from '../deps.js';
import { conflict, notFound, unprocessable } from '../problems.js';
import { jsonResponse, link, problemResponses } from '../openapi.js';
import { connectionListSchema, connectionSchema } from '../openapi-schemas.js';
import { assertConnectionRoom, lockQuota, quotasOf } from '../limits/quotas.js';
import { envParams } from '../schemas.js';
import { sealCredentials, sealTargetOf } from '../vault.js';
import { assertConnectionHostAllowed } from '../connection-hosts.js';
import { pgpKeyReadable } from '../../common/pgp-keys.js';

type Connection = typeof connections.$inferSelect;
export const connectionView = (c: Connection) => ({
  id: c.id,
  name: c.name,
  kind: c.kind,
  baseUrl: c.baseUrl,
  credentialsVersion: c.credentialsVersion,
  createdAt: c.createdAt.toISOString(),
});

const createBody = z
  .object({
    name: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'lowercase letters, digits and hyphens'),
    kind: z.enum(CONNECTION_KINDS),
    baseUrl: z.url({ protocol: /^(https?|sftp)$/ }),
    credentials: z.record(z.string(), z.string()),
  })
  .strict();

/**
 * A base URL of the scheme its kind speaks. An SFTP server's URL names the server only: folders and
 * file names on it are customer data, which the control database does not hold.
 */
function assertBaseUrlFits(kind: ConnectionKind, baseUrl: string): void {
  const url = new URL(baseUrl);
  if (!CONNECTION_SCHEMES[kind].includes(url.protocol))
    throw unprocessable(
      'connection-scheme-mismatch',
      `a connection of kind ${kind} takes a ${CONNECTION_SCHEMES[kind].map((s) => `${s}//`).join(' or ')} base URL, not ${url.protocol}//`,
    );
  if (kind === 'sftp' && (url.pathname.replace(/^\/$/, '') !== '' || url.search || url.hash))
    throw unprocessable(
      'connection-scheme-mismatch',
      'an sftp base URL names the server only (sftp://host:port), without a path, query or fragment',
    );
  // Only http(s) URLs have their hosts put in canonical form (0x7f000001 is 127.0.0.1 there).
  if (kind === 'sftp' && new URL(`http://${url.host}`).hostname !== url.hostname.toLowerCase())
    throw unprocessable(
      'connection-scheme-mismatch',
      `the sftp base URL's host ${url.host} is not written in its usual form`,
    );
}

/** Checks credentials against their kind's shape; the reason names fields, never values (the values are secrets). */
async function checkedCredentials(kind: ConnectionKind, credentials: Record<string, string>) {
  const shape = credentialSchemas[kind].safeParse(credentials);
  const invalid = shape.success
    ? await unreadableKeyFields(shape.data)
    : shape.error.issues.map((i) => i.path.join('.') || 'object');
  if (!shape.success || invalid.length > 0)
    throw unprocessable(
      'invalid-credentials',
      `credentials for kind ${kind} must be ${Object.keys(credentialSchemas[kind].shape).join(', ')} (${invalid.join(', ')} invalid)`,
    );
  return shape.data;
}

/** A key that cannot be read (with its passphrase) is refused when given, not when a run first uses it. */
async function unreadableKeyFields(credentials: Record<string, string | undefined>): Promise<string[]> {
  const { privateKey, passphrase, pgpPrivateKey, pgpPassphrase, pgpPublicKey } = credentials;
  const readable = {
    privateKey: privateKey === undefined || !(ssh2.utils.parseKey(privateKey, passphrase) instanceof Error),
    pgpPrivateKey:
      pgpPrivateKey === undefined || (await pgpKeyReadable(pgpPrivateKey, 'private', pgpPassphrase)),
    pgpPublicKey: pgpPublicKey === undefined || (await pgpKeyReadable(pgpPublicKey, 'public')),
  };
  return Object.entries(readable).flatMap(([field, ok]) => (ok ? [] : [field]));
}

const createdConnectionLinks = {
  rotateConnectionCredentials: link(
    'rotateConnectionCredentials',
    { org: '$request.path.org', env: '$request.path.env', connection: '$response.body#/id' },
    "Rotate the connection's credentials",
  ),
};

export function connectionRoutes(deps: ApiDeps): FastifyPluginAsyncZod {
  return async (app) => {
    app.post(
      '/v1/organizations/:org/environments/:env/connections',
      {
        schema: {
          operationId: 'createConnection',
          tags: ['connections'],
          summary:
            "Add a connection; its credentials are sealed into the environment's bucket and never returned",
          params: envParams,
          body: createBody,
          response: {
            201: jsonResponse('The connection (never its credentials)', connectionSchema),
            ...problemResponses('body', {
              403: ['quota-exceeded'],
              404: ['not-found'],
              409: ['environment-not-active', 'duplicate-connection'],
              422: ['connection-scheme-mismatch', 'connection-host-refused', 'invalid-credentials'],
            }),
          },
        },
        links: { 201: createdConnectionLinks },
      },
      async (request, reply) => {
        const principal = principalOf(request);
        const { org, env } = await visibleEnvironment(deps.db, principal, request.params);
        const vault = sealTargetOf(org.slug, env);
        const { name, kind, baseUrl, credentials } = request.body;
        assertBaseUrlFits(kind, baseUrl);
        await assertConnectionHostAllowed(deps.config, baseUrl);
        const secrets = await checkedCredentials(kind, credentials);
        const id = randomUUID();
        const row = await deps.db.transaction(async (tx) => {
          await lockQuota(tx, org.id);
          await assertConnectionRoom(tx, quotasOf(deps.config.quotas, org), org.id);
          const [created] = await tx
            .insert(connections)
            .values({
              id,
              environmentId: env.id,
              name,
              kind,
              baseUrl,
            })
            .onConflictDoNothing()
            .returning();
          if (!created)
            throw conflict(
              'duplicate-connection',
              `connection ${name} already exists in ${org.slug}/${env.slug}`,
            );
          await sealCredentials(deps.accounts, vault, id, baseUrl, secrets);
          await audit(tx, {
            actorKeyId: principal.keyId,
            action: 'connection.created',
            organizationId: org.id,
            environmentId: env.id,
            target: id,
            details: { kind, host: new URL(baseUrl).host },
          });
          return created;
        });
        return reply.code(201).send(connectionView(row));
      },
    );

    app.put(
      '/v1/organizations/:org/environments/:env/connections/:connection/credentials',
      {
        schema: {
          operationId: 'rotateConnectionCredentials',
          tags: ['connections'],
          summary: "Rotate a connection's credentials: sealed again over the old ones, never returned",
          params: envParams.extend({ connection: z.uuid() }),
          body: z.object({ credentials: z.record(z.string(), z.string()) }).strict(),
          response: {
            200: jsonResponse('The connection, at its new credentials version', connectionSchema),
            ...problemResponses('body', {
              404: ['not-found'],
              409: ['environment-not-active'],
              422: ['invalid-credentials'],
            }),
          },
        },
      },
      async (request) => {
        const principal = principalOf(request);
        const { org, env } = await visibleEnvironment(deps.db, principal, request.params);
        const vault = sealTargetOf(org.slug, env);
        const [current] = await deps.db
          .select()
          .from(connections)
          .where(and(eq(connections.id, request.params.connection), eq(connections.environmentId, env.id)));
        if (!current) throw notFound(`connection ${request.params.connection} in ${org.slug}/${env.slug}`);
        const secrets = await checkedCredentials(current.kind as ConnectionKind, request.body.credentials);
        const row = await deps.db.transaction(async (tx) => {
          const [rotated] = await tx
            .update(connections)
            .set({ credentialsVersion: sql`${connections.credentialsVersion} + 1` })
            .where(eq(connections.id, current.id))
            .returning();
          await audit(tx, {
            actorKeyId: principal.keyId,
            action: 'connection.credentials_rotated',
            organizationId: org.id,
            environmentId: env.id,
            target: current.id,
            details: { credentialsVersion: rotated!.credentialsVersion },
          });
          // Sealing is the last step: only the commit can still fail after the new value is live.
          await sealCredentials(deps.accounts, vault, current.id, current.baseUrl, secrets);
          return rotated!;
        });
        return connectionView(row);
      },
    );

    app.get(
      '/v1/organizations/:org/environments/:env/connections',
      {
        schema: {
          operationId: 'listConnections',
          tags: ['connections'],
          summary: "List an environment's connections (metadata only)",
          params: envParams,
          response: {
            200: jsonResponse("The environment's connections, oldest first", connectionListSchema),
            ...problemResponses('input', { 404: ['not-found'] }),
          },
        },
      },
      async (request) => {
        const { env } = await visibleEnvironment(deps.db, principalOf(request), request.params);
        const rows = await deps.db
          .select()
          .from(connections)
          .where(eq(connections.environmentId, env.id))
          .orderBy(asc(connections.createdAt));
        return { connections: rows.map(connectionView) };
      },
    );
  };
}
