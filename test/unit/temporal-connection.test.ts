import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadControlApiConfig } from '../../common/config.js';
import {
  TemporalConnectionConfigError,
  loadTemporalConnection,
  temporalClientSecretsOf,
  temporalConnectOptions,
  temporalConnectOptionsWithToken,
  temporalEndpointOf,
} from '../../common/temporal-connection.js';

const without = (env: Record<string, string>, ...names: string[]) =>
  Object.fromEntries(Object.entries(env).filter(([name]) => !names.includes(name)));
const DATABASE = { TAVIO_DATABASE_URL: 'postgres://tavio_app:secret@127.0.0.1:55432/tavio' };
const CA = '-----BEGIN CERTIFICATE-----\nca\n-----END CERTIFICATE-----\n';
const CERT = '-----BEGIN CERTIFICATE-----\nclient\n-----END CERTIFICATE-----\n';
const KEY = '-----BEGIN PRIVATE KEY-----\nkey\n-----END PRIVATE KEY-----\n';

function files(): Record<'ca' | 'cert' | 'key' | 'toml', string> {
  const dir = mkdtempSync(join(tmpdir(), 'tavio-temporal-'));
  const at = (name: string, text: string) => {
    writeFileSync(join(dir, name), text);
    return join(dir, name);
  };
  return {
    ca: at('ca.pem', CA),
    cert: at('client.pem', CERT),
    key: at('client.key', KEY),
    toml: at(
      'temporal.toml',
      [
        '[profile.default]',
        'address = "default.example:7233"',
        '[profile.cloud]',
        'address = "acme.a1b2c.tmprl.cloud:7233"',
        'api_key = "profile-key"',
      ].join('\n'),
    ),
  };
}

describe('Temporal connection settings', () => {
  it('defaults to the local server, plain text, authorized by Tavio tokens', () => {
    const settings = loadTemporalConnection({});
    expect(settings).toEqual({ address: '127.0.0.1:7233', auth: 'tavio-tokens' });
    expect(temporalConnectOptions(settings)).toEqual({ address: '127.0.0.1:7233' });
    expect(loadTemporalConnection({ TEMPORAL_ADDRESS: 'temporal.internal:7233' }).address).toBe(
      'temporal.internal:7233',
    );
  });

  it('reads mTLS material into PEM, and keeps the key out of the public part', () => {
    const f = files();
    const settings = loadTemporalConnection({
      TEMPORAL_ADDRESS: 'temporal.internal:7233',
      TEMPORAL_TLS_SERVER_CA_CERT_PATH: f.ca,
      TEMPORAL_TLS_CLIENT_CERT_PATH: f.cert,
      TEMPORAL_TLS_CLIENT_KEY_PATH: f.key,
      TEMPORAL_TLS_SERVER_NAME: 'temporal.internal',
    });
    expect(settings).toEqual({
      address: 'temporal.internal:7233',
      auth: 'tavio-tokens',
      tls: { serverName: 'temporal.internal', serverCaPem: CA, clientCertPem: CERT },
      clientKeyPem: KEY,
    });
    expect(JSON.stringify(temporalEndpointOf(settings))).not.toContain('PRIVATE KEY');
    expect(temporalClientSecretsOf(settings)).toEqual({ clientKeyPem: KEY });
    const options = temporalConnectOptions(settings);
    expect(options.tls?.serverNameOverride).toBe('temporal.internal');
    expect(Buffer.from(options.tls!.serverRootCACertificate!).toString()).toBe(CA);
    expect(Buffer.from(options.tls!.clientCertPair!.crt).toString()).toBe(CERT);
    expect(Buffer.from(options.tls!.clientCertPair!.key).toString()).toBe(KEY);
    expect(options.apiKey).toBeUndefined();
    // Tavio's token goes with each call, the transport stays mTLS.
    expect(temporalConnectOptionsWithToken(settings, 't').metadata).toEqual({ authorization: 'Bearer t' });
  });

  it('uses a static API key, with TLS, and no Tavio token, under static', () => {
    const settings = loadTemporalConnection({
      TAVIO_TEMPORAL_AUTH: 'static',
      TEMPORAL_ADDRESS: 'acme.a1b2c.tmprl.cloud:7233',
      TEMPORAL_API_KEY: 'cloud-key',
    });
    expect(settings).toEqual({
      address: 'acme.a1b2c.tmprl.cloud:7233',
      auth: 'static',
      tls: {},
      apiKey: 'cloud-key',
    });
    expect(temporalEndpointOf(settings)).toEqual({ address: settings.address, auth: 'static', tls: {} });
    expect(temporalConnectOptions(settings)).toEqual({
      address: settings.address,
      tls: {},
      apiKey: 'cloud-key',
    });
    expect(temporalConnectOptionsWithToken(settings, 't')).not.toHaveProperty('metadata');
  });

  it('reads a TOML profile named by TEMPORAL_PROFILE from TEMPORAL_CONFIG_FILE', () => {
    const f = files();
    expect(loadTemporalConnection({ TEMPORAL_CONFIG_FILE: f.toml }).address).toBe('default.example:7233');
    const cloud = loadTemporalConnection({
      TEMPORAL_CONFIG_FILE: f.toml,
      TEMPORAL_PROFILE: 'cloud',
      TAVIO_TEMPORAL_AUTH: 'static',
    });
    expect(cloud).toMatchObject({ address: 'acme.a1b2c.tmprl.cloud:7233', apiKey: 'profile-key', tls: {} });
  });

  it.each([
    [{ TAVIO_TEMPORAL_AUTH: 'jwt' }, /TAVIO_TEMPORAL_AUTH must be tavio-tokens or static/],
    [{ TEMPORAL_API_KEY: 'k' }, /TEMPORAL_API_KEY .* TAVIO_TEMPORAL_AUTH=tavio-tokens/],
    [{ TAVIO_TEMPORAL_AUTH: 'static' }, /static needs TEMPORAL_API_KEY or a client certificate/],
    [{ TEMPORAL_TLS_CLIENT_CERT_PATH: 'CERT' }, /client certificate needs its key/],
    [
      { TEMPORAL_TLS_SERVER_CA_CERT_PATH: '/nonexistent/ca.pem' },
      /server CA certificate file could not be read \(ENOENT\)/,
    ],
    [
      { TEMPORAL_CONFIG_FILE: '/nonexistent/temporal.toml' },
      /TEMPORAL_CONFIG_FILE names a file that does not exist/,
    ],
    [{ TEMPORAL_CONFIG_FILE: 'TOML', TEMPORAL_PROFILE: 'nope' }, /temporal\.toml has no profile "nope"/],
    [{ TEMPORAL_ADDRESS: 'http://temporal:7233/' }, /TEMPORAL_ADDRESS must be host:port/],
  ])('refuses %j with a named error', (env, message) => {
    const f = files();
    const resolved = Object.fromEntries(
      Object.entries(env).map(([k, v]) => [k, v === 'CERT' ? f.cert : v === 'TOML' ? f.toml : v]),
    );
    const attempt = () => loadTemporalConnection(resolved);
    expect(attempt).toThrow(TemporalConnectionConfigError);
    expect(attempt).toThrow(message);
  });

  it('names a malformed configuration file and its line, never the lines around the error', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tavio-temporal-'));
    const file = join(dir, 'temporal.toml');
    writeFileSync(
      file,
      [
        '[profile.cloud]',
        'address = "acme.a1b2c.tmprl.cloud:7233"',
        'api_key = "secret-key"',
        'tls = {',
      ].join('\n'),
    );
    const attempt = () => loadTemporalConnection({ TEMPORAL_CONFIG_FILE: file, TEMPORAL_PROFILE: 'cloud' });
    expect(attempt).toThrow(TemporalConnectionConfigError);
    expect(attempt).toThrow(`the Temporal configuration file ${file} is not valid TOML (line 4)`);
    try {
      attempt();
    } catch (error) {
      expect(String(error)).not.toMatch(/secret-key|api_key|tmprl/);
    }
  });

  it('reads no configuration file unless TEMPORAL_CONFIG_FILE or TEMPORAL_PROFILE asks for one', () => {
    // A developer's own profile in the default place (the SDK looks under XDG_CONFIG_HOME first).
    const home = mkdtempSync(join(tmpdir(), 'tavio-home-'));
    mkdirSync(join(home, 'temporalio'));
    writeFileSync(
      join(home, 'temporalio', 'temporal.toml'),
      ['[profile.default]', 'address = "personal.example:7233"', 'api_key = "personal-key"'].join('\n'),
    );
    const env = { XDG_CONFIG_HOME: home, HOME: home, APPDATA: home };
    expect(loadTemporalConnection(env)).toEqual({ address: '127.0.0.1:7233', auth: 'tavio-tokens' });
    // Asked for by name, the default file is read.
    expect(
      loadTemporalConnection({ ...env, TEMPORAL_PROFILE: 'default', TAVIO_TEMPORAL_AUTH: 'static' }).address,
    ).toBe('personal.example:7233');
  });

  it('never puts a key or certificate in its errors', () => {
    const f = files();
    try {
      loadTemporalConnection({ TEMPORAL_TLS_CLIENT_KEY_PATH: f.key, TEMPORAL_API_KEY: 'secret-key' });
      expect.unreachable();
    } catch (error) {
      expect(String(error)).not.toMatch(/secret-key|PRIVATE KEY/);
    }
  });
});

describe('control API configuration of Temporal', () => {
  it('reads an empty TAVIO_TEMPORAL_UI_UPSTREAM as no Web UI server, and the default as the stack', () => {
    expect(
      loadControlApiConfig({ ...DATABASE, TAVIO_TEMPORAL_UI_UPSTREAM: '' }).temporalUiUpstream,
    ).toBeUndefined();
    expect(loadControlApiConfig(DATABASE).temporalUiUpstream).toBe('http://127.0.0.1:8234');
    expect(() => loadControlApiConfig({ ...DATABASE, TAVIO_TEMPORAL_UI_UPSTREAM: 'not a url' })).toThrow(
      /temporalUiUpstream/,
    );
  });

  it('takes its Temporal address and TLS from the standard variables', () => {
    const config = loadControlApiConfig({
      ...DATABASE,
      TEMPORAL_ADDRESS: 'temporal.internal:7233',
      TEMPORAL_TLS: 'true',
    });
    expect(config.temporalAddress).toBe('temporal.internal:7233');
    expect(config.temporal).toEqual({ address: 'temporal.internal:7233', auth: 'tavio-tokens', tls: {} });
  });

  it('selects the self-hosted namespace provider by default, Temporal Cloud on request', () => {
    expect(loadControlApiConfig(DATABASE).namespaceProvider).toEqual({ kind: 'self-hosted' });
    const cloud = {
      ...DATABASE,
      TAVIO_NAMESPACE_PROVIDER: 'cloud',
      TAVIO_TEMPORAL_CLOUD_API_KEY: 'ops-key',
      TAVIO_TEMPORAL_CLOUD_ACCOUNT: 'a1b2c',
      TAVIO_TEMPORAL_CLOUD_REGION_EU: 'aws-eu-west-1',
      TAVIO_TEMPORAL_AUTH: 'static',
      TEMPORAL_API_KEY: 'namespace-key',
    };
    expect(loadControlApiConfig(cloud).namespaceProvider).toEqual({
      kind: 'cloud',
      apiKey: 'ops-key',
      account: 'a1b2c',
      apiAddress: 'saas-api.tmprl.cloud:443',
      regions: { us: 'aws-us-east-1', ca: 'aws-ca-central-1', eu: 'aws-eu-west-1' },
    });
    const withTokens = without(cloud, 'TAVIO_TEMPORAL_AUTH', 'TEMPORAL_API_KEY');
    expect(() => loadControlApiConfig(withTokens)).toThrow(
      /TAVIO_NAMESPACE_PROVIDER=cloud needs TAVIO_TEMPORAL_AUTH=static/,
    );
    const withoutKey = without(cloud, 'TAVIO_TEMPORAL_CLOUD_API_KEY');
    expect(() => loadControlApiConfig(withoutKey)).toThrow(/TAVIO_TEMPORAL_CLOUD_API_KEY is required/);
    expect(() => loadControlApiConfig({ ...cloud, TAVIO_TEMPORAL_CLOUD_ACCOUNT: 'A.B' })).toThrow(
      /TAVIO_TEMPORAL_CLOUD_ACCOUNT/,
    );
  });
});
