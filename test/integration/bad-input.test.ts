import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import type { EnvScenario } from '../support/scenario.js';
import { newEnvironment, rawRequest, runRequest } from '../support/scenario.js';
import { tableCounts, testDatabase } from '../support/database.js';
import { FIXTURE_HOST } from '../../fixtures/serve.js';
import { pgpKeyPair } from '../support/pgp.js';

/** Every bad request answers a 4xx problem document that names the problem, and changes nothing. */
describe('bad input', () => {
  const database = testDatabase();
  let a: EnvScenario;
  let b: EnvScenario;
  let sibling: EnvScenario;
  let retiredEnvPath: string;
  let pgp: Awaited<ReturnType<typeof pgpKeyPair>>;

  beforeAll(async () => {
    pgp = await pgpKeyPair('correct horse');
    a = await newEnvironment('us');
    sibling = await newEnvironment('us', { org: a });
    b = await newEnvironment('eu');
    // An environment that is not active: marked failed directly, as a failed provisioning leaves it.
    const failed = await newEnvironment('ca', { org: a });
    await database.db.execute(
      `update environments set status = 'failed', status_reason = 'test' where id = '${failed.environment.id}'`,
    );
    retiredEnvPath = `/v1/organizations/${failed.org}/environments/${failed.env}`;
    await failed.close();
  });
  afterAll(async () => {
    await Promise.all([a, b, sibling].map((s) => s.close()));
    await database.close();
  });

  const envPath = (s: EnvScenario) => `/v1/organizations/${s.org}/environments/${s.env}`;
  /** A run request in environment a, with the given connections in place of its own. */
  const runWithConnections = (connections: { source: string; destination: string }) => ({
    method: 'POST',
    path: `${envPath(a)}/runs`,
    key: a.envKey,
    body: { ...runRequest(a), connections },
  });
  const operatorKey = () => inject('operatorKey');
  /** A connection in environment a to the given base URL, with credentials of the right shape. */
  const connectionTo = (name: string, baseUrl: string) => ({
    method: 'POST',
    path: `${envPath(a)}/connections`,
    key: a.envKey,
    body: { name, kind: 'hris-rest', baseUrl, credentials: { apiKey: 'abcdefgh12345' } },
  });
  const portOf = (url: string) => new URL(url).port;
  /** An sftp connection in environment a; its credentials are right unless `credentials` says otherwise. */
  const sftpConnection = (
    name: string,
    baseUrl: string,
    credentials: Record<string, string | undefined> = {},
  ) => ({
    method: 'POST',
    path: `${envPath(a)}/connections`,
    key: a.envKey,
    body: {
      name,
      kind: 'sftp',
      baseUrl,
      credentials: {
        username: 'payroll',
        password: 'pw',
        hostKeySha256: `SHA256:${'A'.repeat(43)}`,
        ...credentials,
      },
    },
  });

  const cases: Array<
    [
      string,
      () => { method: string; path: string; key?: string; body?: unknown; raw?: string },
      number,
      string,
      /** What the detail must say, where the kind alone does not name the problem. */
      RegExp?,
    ]
  > = [
    [
      'unknown region',
      () => ({
        method: 'POST',
        path: `/v1/organizations/${a.org}/environments`,
        key: a.adminKey,
        body: { slug: 'mars-env', region: 'mars' },
      }),
      400,
      'validation-failed',
    ],
    [
      'invalid slug',
      () => ({
        method: 'POST',
        path: `/v1/organizations/${a.org}/environments`,
        key: a.adminKey,
        body: { slug: 'Bad_Slug!', region: 'us' },
      }),
      400,
      'validation-failed',
    ],
    [
      'duplicate environment slug',
      () => ({
        method: 'POST',
        path: `/v1/organizations/${a.org}/environments`,
        key: a.adminKey,
        body: { slug: a.env, region: 'us' },
      }),
      409,
      'duplicate-slug',
    ],
    [
      'region change on an existing environment',
      () => ({
        method: 'POST',
        path: `/v1/organizations/${a.org}/environments`,
        key: a.adminKey,
        body: { slug: a.env, region: 'eu' },
      }),
      409,
      'region-immutable',
    ],
    [
      'duplicate organization slug',
      () => ({ method: 'POST', path: '/v1/organizations', key: operatorKey(), body: { slug: a.org } }),
      409,
      'duplicate-slug',
    ],
    [
      'run in an environment that is not active',
      () => ({ method: 'POST', path: `${retiredEnvPath}/runs`, key: a.adminKey, body: runRequest(a) }),
      409,
      'environment-not-active',
    ],
    [
      'unknown integration',
      () => ({
        method: 'POST',
        path: `${envPath(a)}/runs`,
        key: a.envKey,
        body: { ...runRequest(a), integration: 'payroll-export' },
      }),
      422,
      'unknown-integration',
    ],
    [
      'unknown connection',
      () =>
        runWithConnections({
          source: '00000000-0000-4000-8000-000000000000',
          destination: a.destinationConnectionId,
        }),
      422,
      'unknown-connection',
    ],
    [
      "a sibling environment's connection",
      () =>
        runWithConnections({ source: sibling.sourceConnectionId, destination: a.destinationConnectionId }),
      422,
      'unknown-connection',
    ],
    [
      "another organization's connection",
      () => runWithConnections({ source: b.sourceConnectionId, destination: a.destinationConnectionId }),
      422,
      'unknown-connection',
    ],
    [
      'connection of the wrong kind',
      () => runWithConnections({ source: a.destinationConnectionId, destination: a.destinationConnectionId }),
      422,
      'wrong-connection-kind',
    ],
    [
      'options out of range',
      () => ({
        method: 'POST',
        path: `${envPath(a)}/runs`,
        key: a.envKey,
        body: runRequest(a, { options: { pageSize: 100000 } }),
      }),
      422,
      'invalid-options',
    ],
    [
      'missing key',
      () => ({ method: 'POST', path: `${envPath(a)}/runs`, body: runRequest(a) }),
      401,
      'unauthorized',
    ],
    [
      'malformed key',
      () => ({ method: 'POST', path: `${envPath(a)}/runs`, key: 'not-a-key', body: runRequest(a) }),
      401,
      'unauthorized',
    ],
    [
      'invalid key',
      () => ({
        method: 'POST',
        path: `${envPath(a)}/runs`,
        key: `${a.envKey.slice(0, -4)}AAAA`,
        body: runRequest(a),
      }),
      401,
      'unauthorized',
    ],
    [
      "another organization's key",
      () => ({ method: 'POST', path: `${envPath(a)}/runs`, key: b.envKey, body: runRequest(a) }),
      404,
      'not-found',
    ],
    [
      "another organization's admin key",
      () => ({ method: 'GET', path: `/v1/organizations/${a.org}`, key: b.adminKey }),
      404,
      'not-found',
    ],
    [
      "a sibling environment's key",
      () => ({ method: 'POST', path: `${envPath(a)}/runs`, key: sibling.envKey, body: runRequest(a) }),
      404,
      'not-found',
    ],
    [
      'an environment key creating environments',
      () => ({
        method: 'POST',
        path: `/v1/organizations/${a.org}/environments`,
        key: a.envKey,
        body: { slug: 'sneaky', region: 'us' },
      }),
      403,
      'forbidden',
    ],
    [
      'malformed JSON',
      () => ({
        method: 'POST',
        path: `${envPath(a)}/runs`,
        key: a.envKey,
        raw: '{"integration": "hris-employee-sync",',
      }),
      400,
      'malformed-request',
    ],
    [
      'oversized body',
      () => ({
        method: 'POST',
        path: `${envPath(a)}/runs`,
        key: a.envKey,
        raw: JSON.stringify({ ...runRequest(a), idempotencyKey: 'x'.repeat(200_000) }),
      }),
      413,
      'body-too-large',
    ],
    [
      'credentials of the wrong shape',
      () => ({
        method: 'POST',
        path: `${envPath(a)}/connections`,
        key: a.envKey,
        body: {
          name: 'bad-creds',
          kind: 'hris-rest',
          baseUrl: `http://${FIXTURE_HOST}:9/`,
          credentials: { password: 'hunter2hunter2' },
        },
      }),
      422,
      'invalid-credentials',
    ],
    [
      'credentials larger than their bound',
      () => ({
        method: 'POST',
        path: `${envPath(a)}/connections`,
        key: a.envKey,
        body: {
          name: 'huge-creds',
          kind: 'hris-rest',
          baseUrl: `http://${FIXTURE_HOST}:9/`,
          credentials: { apiKey: 'k'.repeat(513) },
        },
      }),
      422,
      'invalid-credentials',
    ],
    [
      'rotated credentials of the wrong shape',
      () => ({
        method: 'PUT',
        path: `${envPath(a)}/connections/${a.sourceConnectionId}/credentials`,
        key: a.envKey,
        body: { credentials: { apiKey: 'short' } },
      }),
      422,
      'invalid-credentials',
    ],
    [
      'rotation of a connection that does not exist',
      () => ({
        method: 'PUT',
        path: `${envPath(a)}/connections/00000000-0000-4000-8000-000000000000/credentials`,
        key: a.envKey,
        body: { credentials: { apiKey: 'long-enough-key' } },
      }),
      404,
      'not-found',
    ],
    [
      'a connection to the cloud metadata address',
      () => connectionTo('metadata', 'http://169.254.169.254/latest'),
      422,
      'connection-host-refused',
      /^metadata: /,
    ],
    [
      "a connection to the platform's own Temporal",
      () => connectionTo('temporal', `http://${inject('stack').temporalAddress}/`),
      422,
      'connection-host-refused',
      /^platform service: .* Temporal$/,
    ],
    [
      'a connection to the control API spelled localhost',
      () => connectionTo('control-api', `http://localhost:${portOf(inject('controlApiUrl'))}/`),
      422,
      'connection-host-refused',
      /^platform service: .* the control API$/,
    ],
    [
      'a connection to the S3/KMS service spelled IPv4-mapped',
      () => connectionTo('moto', `http://[::ffff:127.0.0.1]:${portOf(inject('stack').awsEndpoint)}/`),
      422,
      'connection-host-refused',
      /^platform service: .* the S3\/KMS service$/,
    ],
    [
      'a connection to the control API spelled as IPv6 loopback',
      () => connectionTo('ipv6-loopback', `http://[::1]:${portOf(inject('controlApiUrl'))}/`),
      422,
      'connection-host-refused',
      /^platform: /,
    ],
    [
      'a connection to the platform address spelled in decimal',
      () => connectionTo('decimal', 'http://2130706433/'),
      422,
      'connection-host-refused',
      /^platform: /,
    ],
    [
      'a connection to the cloud metadata address spelled IPv4-mapped',
      () => connectionTo('mapped-metadata', 'http://[::ffff:169.254.169.254]/'),
      422,
      'connection-host-refused',
      /^metadata: /,
    ],
    [
      'a connection to a loopback address outside the customer networks',
      () => connectionTo('other-loopback', 'http://127.0.2.1:9/'),
      422,
      'connection-host-refused',
      /^loopback: /,
    ],
    [
      'a connection to a private address',
      () => connectionTo('private', 'http://10.0.0.5/'),
      422,
      'connection-host-refused',
      /^private: /,
    ],
    [
      'a connection to the unspecified address',
      () => connectionTo('unspecified', 'http://0.0.0.0:8080/'),
      422,
      'connection-host-refused',
      /^unspecified: /,
    ],
    [
      'a connection URL with a user name and password',
      () => connectionTo('userinfo', 'https://admin:hunter2@hris.example.com/'),
      422,
      'connection-host-refused',
      /^userinfo: /,
    ],
    [
      'a connection URL with a secret in its query',
      () => connectionTo('query-secret', 'https://hris.example.com/v1?api_key=s3cr3t-v4lue'),
      422,
      'connection-host-refused',
      /^secret in query: query parameter api_key /,
    ],
    [
      'a connection to a name that does not resolve',
      () => connectionTo('unresolvable', 'https://hris.nowhere.invalid/'),
      422,
      'connection-host-refused',
      /^unresolvable: /,
    ],
    [
      'an sftp connection to an http URL',
      () => sftpConnection('sftp-http', `http://${FIXTURE_HOST}:2222/`),
      422,
      'connection-scheme-mismatch',
      /^a connection of kind sftp takes a sftp:\/\/ base URL, not http:\/\/$/,
    ],
    [
      'an HRIS connection to an sftp URL',
      () => connectionTo('hris-sftp', `sftp://${FIXTURE_HOST}:2222`),
      422,
      'connection-scheme-mismatch',
    ],
    [
      'an sftp URL with a path, which is customer data',
      () => sftpConnection('sftp-path', `sftp://${FIXTURE_HOST}:2222/payroll/2026`),
      422,
      'connection-scheme-mismatch',
      /without a path, query or fragment/,
    ],
    [
      'an sftp URL whose address is not written in its usual form',
      () => sftpConnection('sftp-hex', 'sftp://0x7f000101:2222'),
      422,
      'connection-scheme-mismatch',
      /not written in its usual form/,
    ],
    [
      'sftp credentials with both a password and a private key',
      () => sftpConnection('sftp-both', `sftp://${FIXTURE_HOST}:2222`, { privateKey: 'k'.repeat(100) }),
      422,
      'invalid-credentials',
      /password invalid/,
    ],
    [
      'sftp credentials whose private key cannot be read',
      () =>
        sftpConnection('sftp-badkey', `sftp://${FIXTURE_HOST}:2222`, {
          password: undefined,
          privateKey: `-----BEGIN OPENSSH PRIVATE KEY-----\n${'A'.repeat(120)}\n-----END OPENSSH PRIVATE KEY-----`,
        }),
      422,
      'invalid-credentials',
      /\(privateKey invalid\)$/,
    ],
    [
      'sftp credentials whose PGP private key does not open with its passphrase',
      () =>
        sftpConnection('sftp-pgp-passphrase', `sftp://${FIXTURE_HOST}:2222`, {
          pgpPrivateKey: pgp.privateKey,
          pgpPassphrase: 'wrong horse',
        }),
      422,
      'invalid-credentials',
      /\(pgpPrivateKey invalid\)$/,
    ],
    [
      'sftp credentials whose PGP public key is a private key',
      () =>
        sftpConnection('sftp-pgp-public', `sftp://${FIXTURE_HOST}:2222`, { pgpPublicKey: pgp.privateKey }),
      422,
      'invalid-credentials',
      /\(pgpPublicKey invalid\)$/,
    ],
    [
      'sftp credentials whose host key fingerprint is not a SHA256 fingerprint',
      () => sftpConnection('sftp-md5', `sftp://${FIXTURE_HOST}:2222`, { hostKeySha256: 'MD5:aa:bb' }),
      422,
      'invalid-credentials',
      /hostKeySha256 invalid/,
    ],
    [
      'unknown field',
      () => ({
        method: 'POST',
        path: `${envPath(a)}/runs`,
        key: a.envKey,
        body: { ...runRequest(a), priority: 'high' },
      }),
      400,
      'validation-failed',
    ],
  ];

  it.each(cases)('%s answers %i and changes nothing', async (_name, build, status, kind, detail) => {
    const request = build();
    const before = await tableCounts(database.db);
    const answer = await rawRequest(request.method, request.path, {
      key: request.key,
      body: request.raw ?? (request.body === undefined ? undefined : JSON.stringify(request.body)),
    });
    expect(answer.status).toBe(status);
    expect(answer.contentType).toContain('application/problem+json');
    expect(answer.body).toMatchObject({ status, type: `https://tavio.dev/problems/${kind}` });
    expect(typeof answer.body.detail).toBe('string');
    if (detail) expect(answer.body.detail).toMatch(detail);
    const after = await tableCounts(database.db);
    // Only a successful key lookup touches a row (its last-used time), never a count.
    expect(after).toEqual(before);
  });

  it('names the offending field of a schema violation', async () => {
    const answer = await rawRequest('POST', `/v1/organizations/${a.org}/environments`, {
      key: a.adminKey,
      body: JSON.stringify({ slug: 'ok-slug', region: 'mars' }),
    });
    expect(answer.body.errors).toEqual([expect.objectContaining({ path: '/region' })]);
  });

  it('never echoes credentials in a refusal', async () => {
    const secret = 'sup3r-s3cret-value-000';
    const answer = await rawRequest('POST', `${envPath(a)}/connections`, {
      key: a.envKey,
      body: JSON.stringify({
        name: 'echo-check',
        kind: 'upsert-rest',
        baseUrl: `http://${FIXTURE_HOST}:9/`,
        credentials: { apiKey: secret },
      }),
    });
    expect(answer.status).toBe(422);
    expect(JSON.stringify(answer.body)).not.toContain(secret);
  });

  it('never echoes a password or a secret query value of a refused URL', async () => {
    for (const baseUrl of [
      'https://admin:hunter2-pw@hris.example.com/',
      'https://hris.example.com/?token=hunter2-pw',
    ]) {
      const answer = await rawRequest('POST', `${envPath(a)}/connections`, {
        key: a.envKey,
        body: JSON.stringify({
          name: 'echo-url',
          kind: 'hris-rest',
          baseUrl,
          credentials: { apiKey: 'abcdefgh12345' },
        }),
      });
      expect(answer.status).toBe(422);
      expect(JSON.stringify(answer.body)).not.toContain('hunter2-pw');
    }
  });
});
