import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { CreateGrantCommand, GenerateDataKeyCommand } from '@aws-sdk/client-kms';
import type { KMS } from '@aws-sdk/client-kms';
import { CreateUserCommand, PutRolePolicyCommand, UpdateAssumeRolePolicyCommand } from '@aws-sdk/client-iam';
import {
  CopyObjectCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { createCredentialOpener } from '../../activities/credentials.js';
import { ENVIRONMENT_WORKER_SETTINGS_VAR } from '../../common/config.js';
import { GATEWAY_OF } from '../../common/gateways.js';
import { DATAPLANE_ROLE, dataplaneRoleArn, PROVISIONER_ROLE, roleArn } from '../../common/names.js';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { createSealedStore, objectKeyOf } from '../../common/sealed-objects.js';
import type { Environment } from '../../control-api/client.js';
import { clientsAs, refusal, refusalOf } from '../support/aws.js';
import { statementRefusal, withPassword } from '../support/database.js';
import type { EnvScenario } from '../support/scenario.js';
import { newEnvironment, newOrganization, rawRequest, runRequest } from '../support/scenario.js';

/**
 * Attacks across the two isolation lines, organization and environment. Each must be refused, by
 * the layer named in its row, with the exact answer given there.
 *
 * Cast: organization A has `dev` and `prod` (siblings in us) and `old` (retired before the
 * attacks); organization B has `prod` in eu, with a finished run.
 */

type Layer = 'control API' | 'S3' | 'KMS' | 'IAM' | 'sealed envelope' | 'environment worker' | 'PostgreSQL';
interface Answer {
  status?: number;
  code: string;
  /** PostgreSQL's message: its SQLSTATE alone would not tell a missing privilege from the audit log's trigger. */
  message?: string;
}
interface Attack {
  name: string;
  layer: Layer;
  attempt: () => Promise<Answer>;
  /** The exact refusal; a function when it names the cast, which exists only once the suite has set up. */
  refusal: Answer | (() => Answer);
}

/** The control API's answer: HTTP status and the problem type's last segment. */
async function api(method: string, path: string, key: string, body?: unknown): Promise<Answer> {
  const answer = await rawRequest(method, path, {
    key,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (answer.status < 400)
    throw new Error(`${method} ${path} was expected to be refused, and answered ${answer.status}`);
  return { status: answer.status, code: String(answer.body.type).split('/').pop()! };
}

/** The S3, KMS or IAM service's answer to a refused call. */
async function service(call: Promise<unknown>): Promise<Answer> {
  const { status, name } = await refusal(call);
  return { status, code: name };
}

/** Records every KMS call a client makes and the service's answer to each. */
function kmsCalls(kms: KMS): Array<{ command: string; answer: Answer | 'ok' }> {
  const calls: Array<{ command: string; answer: Answer | 'ok' }> = [];
  kms.middlewareStack.add(
    (next, context) => async (args) => {
      const call = { command: context.commandName ?? '?', answer: 'ok' as Answer | 'ok' };
      calls.push(call);
      try {
        return await next(args);
      } catch (error) {
        const { status, name } = refusalOf(error);
        call.answer = { status, code: name };
        throw error;
      }
    },
    { step: 'initialize', name: `isolationKmsCalls-${randomUUID()}` },
  );
  return calls;
}

const envPath = (s: { org: string; env: string }) => `/v1/organizations/${s.org}/environments/${s.env}`;
const scopeOf = (s: EnvScenario, environment: Environment = s.environment) => ({
  organization: s.org,
  environment: s.env,
  region: environment.region,
  keyArn: environment.keyArn!,
});
type Clients = Awaited<ReturnType<typeof clientsAs>>;
/** Where an environment's source connection credentials are sealed. */
const sealedCredentials = (s: EnvScenario) => ({
  Bucket: s.environment.bucket,
  Key: objectKeyOf('credentials', s.sourceConnectionId),
});

describe('isolation: attacks that must be refused', () => {
  let aDev: EnvScenario;
  let aProd: EnvScenario;
  let aOld: EnvScenario;
  let bProd: EnvScenario;
  let bRunId: string;
  let worker: { aDev: Clients; aProd: Clients; aOld: Clients };
  let control: { aDev: Clients; aProd: Clients; aOld: Clients };
  let prodSealed: Uint8Array;

  beforeAll(async () => {
    const orgA = await newOrganization('attacked');
    aDev = await newEnvironment('us', { org: orgA, env: 'dev', employees: 20 });
    aProd = await newEnvironment('us', { org: orgA, env: 'prod', employees: 20 });
    aOld = await newEnvironment('us', { org: orgA, env: 'old', employees: 20 });
    bProd = await newEnvironment('eu', { env: 'prod', employees: 20 });
    const run = await bProd.client.createRun(bProd.org, bProd.env, runRequest(bProd));
    expect((await bProd.client.waitForRun(bProd.org, bProd.env, run.id, { timeoutMs: 120_000 })).status).toBe(
      'completed',
    );
    bRunId = run.id;
    worker = {
      aDev: await clientsAs(aDev.environment, DATAPLANE_ROLE),
      aProd: await clientsAs(aProd.environment, DATAPLANE_ROLE),
      aOld: await clientsAs(aOld.environment, DATAPLANE_ROLE),
    };
    control = {
      aDev: await clientsAs(aDev.environment, PROVISIONER_ROLE),
      aProd: await clientsAs(aProd.environment, PROVISIONER_ROLE),
      aOld: await clientsAs(aOld.environment, PROVISIONER_ROLE),
    };
    const object = await worker.aProd.s3.send(new GetObjectCommand(sealedCredentials(aProd)));
    prodSealed = await object.Body!.transformToByteArray();
    expect((await aOld.admin.retireEnvironment(aOld.org, aOld.env)).environment.status).toBe('retired');
  });
  afterAll(async () => {
    await Promise.all([aDev, aProd, aOld, bProd].map((s) => s.close()));
  });

  const attacks: Attack[] = [
    // The control API: what a key may name.
    {
      name: "A's admin key reads B's environment by slug",
      layer: 'control API',
      attempt: () => api('GET', envPath(bProd), aProd.adminKey),
      refusal: { status: 404, code: 'not-found' },
    },
    {
      name: "A's admin key reads B's run by id",
      layer: 'control API',
      attempt: () => api('GET', `${envPath(bProd)}/runs/${bRunId}`, aProd.adminKey),
      refusal: { status: 404, code: 'not-found' },
    },
    {
      name: "A's admin key reads B's run id under A's own environment (parameter tampering)",
      layer: 'control API',
      attempt: () => api('GET', `${envPath(aProd)}/runs/${bRunId}`, aProd.adminKey),
      refusal: { status: 404, code: 'not-found' },
    },
    {
      name: "A's admin key reads B's run residency",
      layer: 'control API',
      attempt: () => api('GET', `${envPath(bProd)}/runs/${bRunId}/residency`, aProd.adminKey),
      refusal: { status: 404, code: 'not-found' },
    },
    {
      name: "A's admin key lists B's connections",
      layer: 'control API',
      attempt: () => api('GET', `${envPath(bProd)}/connections`, aProd.adminKey),
      refusal: { status: 404, code: 'not-found' },
    },
    {
      name: "A's admin key rotates the credentials of B's connection",
      layer: 'control API',
      attempt: () =>
        api('PUT', `${envPath(bProd)}/connections/${bProd.sourceConnectionId}/credentials`, aProd.adminKey, {
          credentials: { apiKey: 'attacker-chosen-key' },
        }),
      refusal: { status: 404, code: 'not-found' },
    },
    {
      name: "A's admin key retires B's environment",
      layer: 'control API',
      attempt: () => api('DELETE', envPath(bProd), aProd.adminKey),
      refusal: { status: 404, code: 'not-found' },
    },
    {
      name: "A's admin key issues an environment key for B's environment",
      layer: 'control API',
      attempt: () => api('POST', `${envPath(bProd)}/api-keys`, aProd.adminKey, {}),
      refusal: { status: 404, code: 'not-found' },
    },
    {
      name: 'a guessed run id',
      layer: 'control API',
      attempt: () => api('GET', `${envPath(aProd)}/runs/${randomUUID()}`, aProd.envKey),
      refusal: { status: 404, code: 'not-found' },
    },
    {
      name: "dev's environment key reads its sibling prod",
      layer: 'control API',
      attempt: () => api('GET', envPath(aProd), aDev.envKey),
      refusal: { status: 404, code: 'not-found' },
    },
    {
      name: "dev's environment key starts a run in prod",
      layer: 'control API',
      attempt: () => api('POST', `${envPath(aProd)}/runs`, aDev.envKey, runRequest(aProd)),
      refusal: { status: 404, code: 'not-found' },
    },
    {
      name: "dev's environment key starts a run in dev with prod's connections (parameter tampering)",
      layer: 'control API',
      attempt: () => api('POST', `${envPath(aDev)}/runs`, aDev.envKey, runRequest(aProd)),
      refusal: { status: 422, code: 'unknown-connection' },
    },
    {
      name: "dev's environment key rotates prod's connection through dev's path",
      layer: 'control API',
      attempt: () =>
        api('PUT', `${envPath(aDev)}/connections/${aProd.sourceConnectionId}/credentials`, aDev.envKey, {
          credentials: { apiKey: 'attacker-chosen-key' },
        }),
      refusal: { status: 404, code: 'not-found' },
    },
    {
      name: "dev's environment key lists the organization's keys",
      layer: 'control API',
      attempt: () => api('GET', `/v1/organizations/${aDev.org}/api-keys`, aDev.envKey),
      refusal: { status: 403, code: 'forbidden' },
    },
    {
      name: "an organization's admin key asks for a region's environment list",
      layer: 'control API',
      attempt: () => api('GET', '/v1/regions/us/environments', aProd.adminKey),
      refusal: { status: 404, code: 'not-found' },
    },
    // Storage: worker credentials of one environment on another's bucket and objects.
    {
      name: "dev's worker credentials list prod's bucket (development on production)",
      layer: 'S3',
      attempt: () =>
        service(worker.aDev.s3.send(new ListObjectsV2Command({ Bucket: aProd.environment.bucket }))),
      refusal: { status: 403, code: 'AccessDenied' },
    },
    {
      name: "dev's worker credentials read prod's sealed credentials",
      layer: 'S3',
      attempt: () => service(worker.aDev.s3.send(new GetObjectCommand(sealedCredentials(aProd)))),
      refusal: { status: 403, code: 'AccessDenied' },
    },
    {
      name: "dev's worker credentials plant an object in prod's bucket",
      layer: 'S3',
      attempt: () =>
        service(
          worker.aDev.s3.send(
            new PutObjectCommand({ Bucket: aProd.environment.bucket, Key: 'files/planted', Body: 'x' }),
          ),
        ),
      refusal: { status: 403, code: 'AccessDenied' },
    },
    {
      name: "A's prod worker credentials read B's sealed credentials (across organizations)",
      layer: 'S3',
      attempt: () => service(worker.aProd.s3.send(new GetObjectCommand(sealedCredentials(bProd)))),
      refusal: { status: 403, code: 'AccessDenied' },
    },
    {
      name: "A's prod worker credentials delete B's sealed credentials",
      layer: 'S3',
      attempt: () => service(worker.aProd.s3.send(new DeleteObjectCommand(sealedCredentials(bProd)))),
      refusal: { status: 403, code: 'AccessDenied' },
    },
    // Keys: worker credentials of one environment on another's key.
    {
      name: "dev's worker credentials seal with prod's key",
      layer: 'KMS',
      attempt: () =>
        service(
          worker.aDev.kms.send(
            new GenerateDataKeyCommand({ KeyId: aProd.environment.keyArn!, KeySpec: 'AES_256' }),
          ),
        ),
      refusal: { status: 400, code: 'NotFoundException' },
    },
    {
      name: "A's prod worker credentials seal with B's key",
      layer: 'KMS',
      attempt: () =>
        service(
          worker.aProd.kms.send(
            new GenerateDataKeyCommand({ KeyId: bProd.environment.keyArn!, KeySpec: 'AES_256' }),
          ),
        ),
      refusal: { status: 400, code: 'NotFoundException' },
    },
    {
      name: "dev's worker credentials decrypt a copy of prod's sealed credentials",
      layer: 'KMS',
      attempt: async () => {
        // The attacker holds the bytes (say, leaked) and names prod's context: the key service still refuses.
        return decryptAs(worker.aDev, aProd, prodSealed);
      },
      refusal: { status: 400, code: 'NotFoundException' },
    },
    // The vault: the control plane writes credentials and can neither read nor decrypt them.
    {
      name: "the control plane reads prod's sealed credentials back",
      layer: 'S3',
      attempt: () => service(control.aProd.s3.send(new GetObjectCommand(sealedCredentials(aProd)))),
      refusal: { status: 403, code: 'AccessDenied' },
    },
    {
      name: "the control plane decrypts prod's sealed credentials",
      layer: 'KMS',
      attempt: async () => {
        return decryptAs(control.aProd, aProd, prodSealed);
      },
      refusal: { status: 403, code: 'AccessDenied' },
    },
    {
      name: 'the control plane lifts its own deny by rewriting its role policy',
      layer: 'IAM',
      attempt: () =>
        service(
          control.aProd.iam.send(
            new PutRolePolicyCommand({
              RoleName: PROVISIONER_ROLE,
              PolicyName: 'provision-environment',
              PolicyDocument: JSON.stringify({
                Version: '2012-10-17',
                Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }],
              }),
            }),
          ),
        ),
      refusal: { status: 403, code: 'AccessDenied' },
    },
    {
      name: "the control plane makes prod's data-plane role trust itself",
      layer: 'IAM',
      attempt: () =>
        service(
          control.aProd.iam.send(
            new UpdateAssumeRolePolicyCommand({
              RoleName: DATAPLANE_ROLE,
              PolicyDocument: JSON.stringify({
                Version: '2012-10-17',
                Statement: [{ Effect: 'Allow', Principal: { AWS: '*' }, Action: 'sts:AssumeRole' }],
              }),
            }),
          ),
        ),
      refusal: { status: 403, code: 'AccessDenied' },
    },
    {
      name: "the control plane mints itself an IAM user in prod's account",
      layer: 'IAM',
      attempt: () => service(control.aProd.iam.send(new CreateUserCommand({ UserName: 'backdoor' }))),
      refusal: { status: 403, code: 'AccessDenied' },
    },
    {
      name: "the control plane copies prod's sealed credentials to a key it could read",
      layer: 'S3',
      attempt: () =>
        service(
          control.aProd.s3.send(
            new CopyObjectCommand({
              Bucket: aProd.environment.bucket,
              Key: objectKeyOf('tmp', 'copy'),
              CopySource: `${aProd.environment.bucket}/${objectKeyOf('credentials', aProd.sourceConnectionId)}`,
            }),
          ),
        ),
      refusal: { status: 403, code: 'AccessDenied' },
    },
    {
      name: 'the control plane grants itself decryption with a KMS grant',
      layer: 'KMS',
      attempt: () =>
        service(
          control.aProd.kms.send(
            new CreateGrantCommand({
              KeyId: aProd.environment.keyArn!,
              GranteePrincipal: roleArn(aProd.environment.awsAccountId, PROVISIONER_ROLE),
              Operations: ['Decrypt'],
            }),
          ),
        ),
      refusal: { status: 403, code: 'AccessDenied' },
    },
    {
      name: "prod's worker replaces its own sealed credentials",
      layer: 'S3',
      attempt: () =>
        service(
          worker.aProd.s3.send(new PutObjectCommand({ ...sealedCredentials(aProd), Body: prodSealed })),
        ),
      refusal: { status: 403, code: 'AccessDenied' },
    },
    // Identities of the control account: each may assume its own kind of role, in its own region.
    {
      name: "the us1 host assumes an eu environment's data-plane role",
      layer: 'IAM',
      attempt: () =>
        assumeAs(
          inject('stack').awsIdentities.hosts.us1,
          dataplaneRoleArn(bProd.environment.awsAccountId, GATEWAY_OF.eu),
        ),
      refusal: { status: 403, code: 'AccessDenied' },
    },
    {
      name: "the control plane assumes prod's data-plane role",
      layer: 'IAM',
      attempt: () =>
        assumeAs(
          inject('stack').awsIdentities.controlPlane,
          dataplaneRoleArn(aProd.environment.awsAccountId, GATEWAY_OF.us),
        ),
      refusal: { status: 403, code: 'AccessDenied' },
    },
    // The sealed envelope: an object out of place is refused before any key is asked.
    {
      name: "prod's sealed credentials copied into dev's bucket, opened by dev's worker",
      layer: 'sealed envelope',
      // Same object name, same organization and region: only the environment differs.
      attempt: () => plantAndOpen(aDev, control.aDev, worker.aDev, aProd.sourceConnectionId, prodSealed),
      refusal: { code: 'SealedContextMismatch' },
    },
    {
      name: "one connection's sealed credentials moved to another connection's name in the same environment",
      layer: 'sealed envelope',
      attempt: () => plantAndOpen(aProd, control.aProd, worker.aProd, randomUUID(), prodSealed),
      refusal: { code: 'SealedContextMismatch' },
    },
    // Temporal: a worker pointed at another environment's namespace.
    {
      name: "a worker of dev configured for prod's namespace",
      layer: 'environment worker',
      attempt: () => startMisconfiguredWorker(aDev, aProd.environment.namespace),
      refusal: () => ({
        code: `refusing to start: namespace ${aProd.environment.namespace} is not environment ${aDev.environment.namespace}'s`,
      }),
    },
    // A retired environment.
    {
      name: "the retired environment's key",
      layer: 'control API',
      attempt: () => api('GET', envPath(aOld), aOld.envKey),
      refusal: { status: 401, code: 'unauthorized' },
    },
    {
      name: 'a connection added to the retired environment by its admin',
      layer: 'control API',
      attempt: () =>
        api('POST', `${envPath(aOld)}/connections`, aOld.adminKey, {
          name: 'late',
          kind: 'hris-rest',
          baseUrl: aOld.source.url,
          credentials: { apiKey: 'late-arriving-key' },
        }),
      refusal: { status: 409, code: 'environment-not-active' },
    },
    {
      name: "the retired environment's bucket, asked for by the control plane: it no longer exists",
      layer: 'S3',
      attempt: () =>
        service(control.aOld.s3.send(new ListObjectsV2Command({ Bucket: aOld.environment.bucket }))),
      refusal: { status: 404, code: 'NoSuchBucket' },
    },
    {
      // Its data-plane role is deleted. The local service fails such credentials with a 500 (an
      // unhandled NoSuchEntity); AWS refuses them with a 403. Either way nothing is served.
      name: "the retired environment's old worker credentials on its sibling's live bucket",
      layer: 'IAM',
      attempt: () =>
        service(worker.aOld.s3.send(new ListObjectsV2Command({ Bucket: aProd.environment.bucket }))),
      refusal: { status: 500, code: 'Error' },
    },
    // The control database: the control API's role is not a superuser and owns nothing.
    {
      name: "the control API's role switches off triggers for its session (session_replication_role = replica)",
      layer: 'PostgreSQL',
      attempt: () => asApplication('SET session_replication_role = replica'),
      refusal: { code: '42501', message: 'permission denied to set parameter "session_replication_role"' },
    },
    {
      name: "the control API's role disables the audit log's triggers",
      layer: 'PostgreSQL',
      attempt: () => asApplication('ALTER TABLE audit_log DISABLE TRIGGER ALL'),
      refusal: { code: '42501', message: 'must be owner of table audit_log' },
    },
    {
      name: "the control API's role rewrites the audit log",
      layer: 'PostgreSQL',
      attempt: () => asApplication(`UPDATE audit_log SET action = 'rewritten'`),
      refusal: { code: '42501', message: 'permission denied for table audit_log' },
    },
    {
      name: "the control API's role deletes the audit log",
      layer: 'PostgreSQL',
      attempt: () => asApplication('DELETE FROM audit_log'),
      refusal: { code: '42501', message: 'permission denied for table audit_log' },
    },
    {
      name: "the control API's role empties the audit log",
      layer: 'PostgreSQL',
      attempt: () => asApplication('TRUNCATE audit_log'),
      refusal: { code: '42501', message: 'permission denied for table audit_log' },
    },
    {
      name: "the control API's role creates a superuser",
      layer: 'PostgreSQL',
      attempt: () => asApplication('CREATE ROLE backdoor SUPERUSER LOGIN'),
      refusal: { code: '42501', message: 'must be superuser to create superusers' },
    },
    {
      name: "a connection as the control API's role without a password",
      layer: 'PostgreSQL',
      attempt: () => statementRefusal(withPassword(inject('stack').databaseUrl, ''), 'SELECT 1'),
      refusal: () => signInRefused(inject('stack').databaseUrl),
    },
    {
      name: "a connection as the control API's role with a wrong password",
      layer: 'PostgreSQL',
      attempt: () => statementRefusal(withPassword(inject('stack').databaseUrl, 'guessed'), 'SELECT 1'),
      refusal: () => signInRefused(inject('stack').databaseUrl),
    },
    {
      name: "a connection as the cluster's superuser without a password",
      layer: 'PostgreSQL',
      attempt: () => statementRefusal(withPassword(inject('stack').databaseAdminUrl, ''), 'SELECT 1'),
      refusal: () => signInRefused(inject('stack').databaseAdminUrl),
    },
  ];

  it.each(attacks.map((attack) => [`${attack.layer}: ${attack.name}`, attack] as const))(
    'refuses %s',
    async (_name, attack) => {
      expect(await attack.attempt()).toEqual(
        typeof attack.refusal === 'function' ? attack.refusal() : attack.refusal,
      );
    },
  );
});

/** PostgreSQL's refusal of a statement of the control API's own role. */
function asApplication(statement: string): Promise<Answer> {
  return statementRefusal(inject('stack').databaseUrl, statement);
}

/** PostgreSQL's answer to a sign-in without the right password (SCRAM), naming the role. */
function signInRefused(url: string): Answer {
  return {
    code: '28P01',
    message: `password authentication failed for user "${decodeURIComponent(new URL(url).username)}"`,
  };
}

/** Opens an environment's sealed credentials with another identity's KMS client; answers the key service's refusal. */
async function decryptAs(clients: Clients, owner: EnvScenario, sealed: Uint8Array): Promise<Answer> {
  const calls = kmsCalls(clients.kms);
  const store = createSealedStore({ ...clients, bucket: owner.environment.bucket, scope: scopeOf(owner) });
  await expect(store.open('credentials', owner.sourceConnectionId, sealed)).rejects.toThrow();
  const decrypt = calls.find((call) => call.command === 'DecryptCommand');
  if (!decrypt || decrypt.answer === 'ok') throw new Error('no Decrypt call was refused');
  return decrypt.answer;
}

/** Assumes a role with one of the control account's identities; answers the refusal. */
async function assumeAs(
  key: { accessKeyId: string; secretAccessKey: string },
  roleArn: string,
): Promise<Answer> {
  const sts = new STSClient({ region: 'us-east-1', endpoint: inject('stack').awsEndpoint, credentials: key });
  try {
    return await service(sts.send(new AssumeRoleCommand({ RoleArn: roleArn, RoleSessionName: 'attacker' })));
  } finally {
    sts.destroy();
  }
}

/**
 * Writes `sealed` as a connection's credentials with the planter's clients (the control plane may
 * write credentials), then opens them as the environment's worker does;
 * answers the refusal and asserts that no key was asked.
 */
async function plantAndOpen(
  s: EnvScenario,
  planter: Clients,
  clients: Clients,
  connectionId: string,
  sealed: Uint8Array,
): Promise<Answer> {
  await planter.s3.send(
    new PutObjectCommand({
      Bucket: s.environment.bucket,
      Key: objectKeyOf('credentials', connectionId),
      Body: sealed,
    }),
  );
  const calls = kmsCalls(clients.kms);
  const opener = createCredentialOpener({
    aws: { ...clients, destroy: () => undefined },
    bucket: s.environment.bucket,
    ...scopeOf(s),
    gateway: GATEWAY_OF[s.environment.region],
  });
  const failure = await opener.open(connectionId).then(
    () => {
      throw new Error('the sealed object was opened');
    },
    (error: unknown) => error as { type?: string },
  );
  expect(calls).toEqual([]);
  return { code: failure.type ?? 'none' };
}

/** Starts an environment worker whose settings name another environment's namespace; answers its refusal line. */
async function startMisconfiguredWorker(s: EnvScenario, namespace: string): Promise<Answer> {
  const settings = {
    organization: s.org,
    environment: s.env,
    environmentId: s.environment.id,
    region: s.environment.region,
    namespace,
    legacyNamespace: false,
    taskQueue: GATEWAY_OF[s.environment.region],
    bucket: s.environment.bucket,
    keyArn: s.environment.keyArn,
    awsRegion: s.environment.awsRegion,
    awsEndpoint: inject('stack').awsEndpoint,
    gatewayUrl: inject('stack').gateways.us1,
    temporal: { address: inject('stack').temporalAddress, auth: 'tavio-tokens' },
    payloadLimitBytes: 16384,
    responseLimitBytes: 4194304,
    logLevel: 'error',
    workflowBundlePath: '/nonexistent',
    hostId: 'attacker',
  };
  const child = spawn(process.execPath, ['--import', 'tsx', 'workers/environment-worker.ts'], {
    env: {
      PATH: process.env.PATH ?? '',
      [ENVIRONMENT_WORKER_SETTINGS_VAR]: JSON.stringify(settings),
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  expect(code).toBe(1);
  return { code: /refusing to start: [^\n]*/.exec(stderr)?.[0] ?? stderr };
}
