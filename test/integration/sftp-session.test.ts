import { readFileSync } from 'node:fs';
import ssh2 from 'ssh2';
import type { SFTPWrapper } from 'ssh2';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { openSftp } from '../../activities/sftp-session.js';
import type { GatewayRoute } from '../../activities/sftp-session.js';
import { proxyAuthorization } from '../../activities/http.js';
import { FailureType } from '../../common/failures.js';
import { proxyUserOf } from '../../common/gateway-identity.js';
import { waitFor } from '../../scripts/processes.js';
import type { SftpCredentials } from '../../common/connections.js';
import { startGatewayInstance } from '../../scripts/stack/gateways.js';
import { createGatewayCredentials } from '../../workers/gateway-credentials.js';
import { newEnvironment, operatorClient } from '../support/scenario.js';
import type { EnvScenario } from '../support/scenario.js';
import { readAccountFile, sftpAccount } from '../support/sftp.js';
import type { SftpAccount } from '../support/sftp.js';

/**
 * A worker's SFTP session: SSH through an HTTP CONNECT tunnel of its region's gateway (a gateway of
 * the stack's configuration, asking the real control API), to the stack's SFTP server (OpenSSH,
 * a chrooted account per test), with the server's host key pinned.
 */

let gateway: Awaited<ReturnType<typeof startGatewayInstance>>;
let a: EnvScenario;
let b: EnvScenario;
let account: SftpAccount;
let routeA: GatewayRoute;
let routeB: GatewayRoute;

const credentialsOf = (overrides: Partial<SftpCredentials> = {}): SftpCredentials => ({
  username: account.username,
  password: account.password,
  hostKeySha256: account.hostKeySha256,
  ...overrides,
});

const list = (sftp: SFTPWrapper, path: string) =>
  new Promise<string[]>((resolve, reject) =>
    sftp.readdir(path, (error, entries) =>
      error ? reject(error) : resolve(entries.map((e) => e.filename).sort()),
    ),
  );
const read = (sftp: SFTPWrapper, path: string) =>
  new Promise<string>((resolve, reject) =>
    sftp.readFile(path, (error, data) => (error ? reject(error) : resolve(data.toString('utf8')))),
  );
const write = (sftp: SFTPWrapper, path: string, data: string) =>
  new Promise<void>((resolve, reject) =>
    sftp.writeFile(path, data, (error) => (error ? reject(error) : resolve())),
  );

/** The failure an attempt to open a session ends with. */
async function refusal(route: GatewayRoute, credentials: SftpCredentials) {
  const error = await openSftp(route, account.baseUrl, credentials).then(
    (session) => {
      session.close();
      throw new Error('the session opened');
    },
    (failure: unknown) => failure as { type?: string; nonRetryable?: boolean; message: string },
  );
  return { type: error.type, nonRetryable: error.nonRetryable, message: error.message };
}

beforeAll(async () => {
  [a, b, account] = await Promise.all([
    newEnvironment('us', { employees: 5 }),
    newEnvironment('us', { employees: 5 }),
    sftpAccount(),
  ]);
  await a.client.createConnection(a.org, a.env, {
    name: 'payroll-sftp',
    kind: 'sftp',
    baseUrl: account.baseUrl,
    credentials: { ...credentialsOf() },
  });
  const hostKey = await operatorClient().createHostKey('us');
  gateway = await startGatewayInstance('us1', {
    controlApiUrl: inject('controlApiUrl'),
    region: 'us',
    key: hostKey.key,
  });
  const issue = createGatewayCredentials(gateway.files.passwd).issue;
  const [proxyA, proxyB] = await Promise.all([issue(a.environment.id), issue(b.environment.id)]);
  routeA = {
    url: gateway.url,
    code: 'us1',
    authorization: proxyAuthorization(proxyA),
    run: 'sftp-session-test',
  };
  routeB = { url: gateway.url, code: 'us1', authorization: proxyAuthorization(proxyB) };
}, 60_000);

afterAll(async () => {
  gateway?.stop();
  await Promise.all([a?.close(), b?.close(), account?.close()]);
});

/**
 * An ed25519 key pair ssh2 can read back: about 1 in 250 of those ssh2 generates, it then refuses
 * as "Malformed OpenSSH private key" (measured over 3,000 pairs).
 */
function readableKeyPair() {
  for (;;) {
    const keys = ssh2.utils.generateKeyPairSync('ed25519');
    if (!(ssh2.utils.parseKey(keys.private) instanceof Error)) return keys;
  }
}

describe('an SFTP session through the gateway', () => {
  it("signs in with a password, behind the server's pinned host key, and moves files in the account's own folder", async () => {
    await account.put('census.csv', 'employee_id,first_name\nE1,Ada\n');
    const session = await openSftp(routeA, account.baseUrl, credentialsOf());
    try {
      // The session starts in the account's home, and its root is the account's own folder.
      expect(await list(session.sftp, '.')).toEqual(['census.csv']);
      expect(await list(session.sftp, '/')).toEqual(['files']);
      expect(await read(session.sftp, 'census.csv')).toBe('employee_id,first_name\nE1,Ada\n');
      await write(session.sftp, 'out.csv', 'done\n');
    } finally {
      session.close();
    }
    expect((await readAccountFile(account, 'out.csv')).toString()).toBe('done\n');
    // The gateway carried it, and logs the tunnel under the environment and the run once it closes.
    const tunnel = `env=${proxyUserOf(a.environment.id)} run=sftp-session-test server=`;
    const line = await waitFor(
      'the gateway to log the tunnel',
      () =>
        readFileSync(gateway.files.accessLog, 'utf8')
          .split('\n')
          .find((l) => l.includes(tunnel) && l.includes(`method=CONNECT url=${account.baseUrl.slice(7)} `)),
      10_000,
    );
    expect(line).toMatch(/ status=200 /);
  });

  it('signs in with a private key the account authorized', async () => {
    const keys = readableKeyPair();
    await account.authorize(keys.public);
    const session = await openSftp(
      routeA,
      account.baseUrl,
      credentialsOf({ password: undefined, privateKey: keys.private }),
    );
    try {
      expect(await list(session.sftp, '.')).toContain('census.csv');
    } finally {
      session.close();
    }
  });

  it('refuses a server whose host key is not the pinned one, naming the key it showed', async () => {
    const other = `SHA256:${'B'.repeat(43)}`;
    expect(await refusal(routeA, credentialsOf({ hostKeySha256: other }))).toEqual({
      type: FailureType.SftpHostKeyRejected,
      nonRetryable: true,
      message: `sftp server ${account.baseUrl.slice(7)} showed host key ${account.hostKeySha256}, which is not the connection's pinned host key: refused`,
    });
  });

  it('fails a wrong password or an unknown user as a refused sign-in, without retrying', async () => {
    for (const credentials of [
      credentialsOf({ password: 'wrong-password' }),
      credentialsOf({ username: 'nobody-here' }),
    ]) {
      expect(await refusal(routeA, credentials)).toEqual({
        type: FailureType.SftpAuthRejected,
        nonRetryable: true,
        message: `sftp server ${account.baseUrl.slice(7)}: sign-in refused`,
      });
    }
  });

  it('tunnels to port 22 when the URL names none, and waits for a server that is down', async () => {
    const host = new URL(account.baseUrl).hostname;
    await a.client.createConnection(a.org, a.env, {
      name: 'no-port-sftp',
      kind: 'sftp',
      baseUrl: `sftp://${host}`,
      credentials: { ...credentialsOf() },
    });
    // Nothing listens on port 22 of the customer side: the gateway lets the tunnel through and
    // cannot connect, which a later attempt may.
    const route = { ...routeA, run: 'sftp-no-port' };
    const error = await openSftp(route, `sftp://${host}`, credentialsOf()).then(
      () => undefined,
      (failure: { type?: string; nonRetryable?: boolean; message: string }) => failure,
    );
    expect(error).toMatchObject({
      type: 'UpstreamUnavailable',
      nonRetryable: false,
      message: `sftp server ${host}:22 is unreachable through the gateway (tunnel answered 503)`,
    });
  });

  it('refuses a private key it cannot read, before connecting, without retrying', async () => {
    const { private: key } = ssh2.utils.generateKeyPairSync('ed25519', {
      passphrase: 'right',
      cipher: 'aes256-ctr',
      rounds: 16,
    });
    expect(
      await refusal(routeA, credentialsOf({ password: undefined, privateKey: key, passphrase: 'wrong' })),
    ).toEqual({
      type: FailureType.SftpAuthRejected,
      nonRetryable: true,
      message: `sftp server ${account.baseUrl.slice(7)}: the connection's private key cannot be read (format or passphrase)`,
    });
  });

  it('is refused by the gateway for an environment that has no connection to the server', async () => {
    const answer = await refusal(routeB, credentialsOf());
    expect(answer.type).toBe(FailureType.EgressRefused);
    expect(answer.nonRetryable).toBe(true);
    expect(answer.message).toMatch(
      new RegExp(`^egress to ${account.baseUrl.slice(7).replaceAll('.', '\\.')} refused by the gateway`),
    );
  });
});
