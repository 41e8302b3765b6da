import { describe, expect, it } from 'vitest';
import { loadControlApiConfig, loadRegionHostConfig } from '../../common/config.js';
import { initialWorkerSecretsSchema, workerSecretsSchema } from '../../common/worker-secrets.js';
import { assertRegistryConsistent } from '../../common/regions.js';

/** The one setting without a default: the stack's database passwords are generated. */
const DATABASE = { TAVIO_DATABASE_URL: 'postgres://tavio_app:secret@127.0.0.1:55432/tavio' };

describe('configuration', () => {
  it('defaults to the local stack, with a region registry of us1, ca1 and eu1', () => {
    const config = loadControlApiConfig(DATABASE);
    expect(config.regions.eu).toMatchObject({
      gateway: 'eu1',
      taskQueue: 'eu1',
      awsRegion: 'eu-central-1',
      gatewayUrl: 'http://127.0.0.1:8883',
    });
    expect(config.regions.ca.awsRegion).toBe('ca-central-1');
    expect(config.payloadLimitBytes).toBe(16 * 1024);
  });

  it('takes each region from its own variables', () => {
    const config = loadControlApiConfig({
      ...DATABASE,
      TAVIO_AWS_REGION_EU: 'eu-west-3',
      TAVIO_GATEWAY_EU1_URL: 'http://gw-eu.internal:3128',
    });
    expect(config.regions.eu).toMatchObject({
      awsRegion: 'eu-west-3',
      gatewayUrl: 'http://gw-eu.internal:3128',
    });
  });

  it("serves each region's run logs on its own data-plane URL, from its own variable", () => {
    const config = loadControlApiConfig(DATABASE);
    expect([config.regions.us, config.regions.ca, config.regions.eu].map((r) => r.dataplaneUrl)).toEqual([
      'http://127.0.0.1:8891',
      'http://127.0.0.1:8892',
      'http://127.0.0.1:8893',
    ]);
    const moved = loadControlApiConfig({ ...DATABASE, TAVIO_DATAPLANE_CA1_URL: 'https://logs.ca.example' });
    expect(moved.regions.ca.dataplaneUrl).toBe('https://logs.ca.example');
    expect(moved.regions.us.dataplaneUrl).toBe('http://127.0.0.1:8891');
    expect(() => loadControlApiConfig({ ...DATABASE, TAVIO_DATAPLANE_EU1_URL: 'not a url' })).toThrow(
      /region eu is misconfigured[\s\S]*dataplaneUrl/,
    );
  });

  it('stops with a message naming a misconfigured region', () => {
    expect(() => loadControlApiConfig({ ...DATABASE, TAVIO_AWS_REGION_CA: 'canada' })).toThrow(
      /region ca is misconfigured[\s\S]*awsRegion/,
    );
    expect(() => loadControlApiConfig({ ...DATABASE, TAVIO_GATEWAY_US1_URL: 'not a url' })).toThrow(
      /region us is misconfigured/,
    );
  });

  it('takes the shortest schedule interval from its variable, 300 s by default', () => {
    expect(loadControlApiConfig(DATABASE).scheduleMinIntervalSeconds).toBe(300);
    expect(
      loadControlApiConfig({ ...DATABASE, TAVIO_SCHEDULE_MIN_INTERVAL_SECONDS: '5' })
        .scheduleMinIntervalSeconds,
    ).toBe(5);
    expect(() => loadControlApiConfig({ ...DATABASE, TAVIO_SCHEDULE_MIN_INTERVAL_SECONDS: '0' })).toThrow(
      /scheduleMinIntervalSeconds/,
    );
  });

  it('needs the database URL, and migrates with it unless the owner has a URL of its own', () => {
    expect(() => loadControlApiConfig({})).toThrow(/TAVIO_DATABASE_URL is required/);
    expect(() => loadControlApiConfig({ TAVIO_DATABASE_URL: 'tavio' })).toThrow(
      /TAVIO_DATABASE_URL is not a URL/,
    );
    expect(loadControlApiConfig(DATABASE).databaseMigrationUrl).toBe(DATABASE.TAVIO_DATABASE_URL);
    const owner = 'postgres://tavio_owner:other@127.0.0.1:55432/tavio';
    const config = loadControlApiConfig({ ...DATABASE, TAVIO_DATABASE_MIGRATION_URL: owner });
    expect(config).toMatchObject({ databaseUrl: DATABASE.TAVIO_DATABASE_URL, databaseMigrationUrl: owner });
    expect(() => loadControlApiConfig({ ...DATABASE, TAVIO_DATABASE_MIGRATION_URL: 'x' })).toThrow(
      /TAVIO_DATABASE_MIGRATION_URL is not a URL/,
    );
  });

  it("takes the SDK's standard AWS_ENDPOINT_URL when TAVIO_AWS_ENDPOINT is not set", () => {
    const endpointOf = (env: Record<string, string>) =>
      loadControlApiConfig({ ...DATABASE, ...env }).regions.eu.awsEndpoint;
    expect(endpointOf({ AWS_ENDPOINT_URL: 'http://aws.internal:4566' })).toBe('http://aws.internal:4566');
    expect(
      endpointOf({
        AWS_ENDPOINT_URL: 'http://aws.internal:4566',
        TAVIO_AWS_ENDPOINT: 'http://127.0.0.1:5055',
      }),
    ).toBe('http://127.0.0.1:5055');
    expect(endpointOf({ AWS_ENDPOINT_URL: '', TAVIO_CONTROL_ACCOUNT_ID: '444455556666' })).toBeUndefined();
    expect(endpointOf({})).toBe('http://127.0.0.1:5055');
  });

  it('uses AWS itself when the endpoint is set empty', () => {
    const config = loadControlApiConfig({
      ...DATABASE,
      TAVIO_AWS_ENDPOINT: '',
      TAVIO_CONTROL_ACCOUNT_ID: '444455556666',
    });
    expect(config.regions.us.awsEndpoint).toBeUndefined();
    expect(config.aws).toBeUndefined();
  });

  it('refuses a payload bound outside its range', () => {
    expect(() => loadControlApiConfig({ ...DATABASE, TAVIO_PAYLOAD_LIMIT_BYTES: '10' })).toThrow(
      /payloadLimitBytes/,
    );
  });

  it('puts the platform on 127.0.0.1 and ::1, and allows no customer network, by default', () => {
    const config = loadControlApiConfig(DATABASE);
    expect(config.platformNetworks).toEqual(['127.0.0.1/32', '::1/128']);
    expect(config.customerNetworks).toEqual([]);
  });

  it('reads platform and customer networks as canonical CIDRs', () => {
    const config = loadControlApiConfig({
      ...DATABASE,
      TAVIO_PLATFORM_NETWORKS: '10.0.0.0/16, fd00:1::/64',
      TAVIO_CUSTOMER_NETWORKS: '127.0.1.9/24,10.20.0.0/16,::ffff:192.168.7.0/120,',
    });
    expect(config.platformNetworks).toEqual(['10.0.0.0/16', 'fd00:1::/64']);
    expect(config.customerNetworks).toEqual(['127.0.1.0/24', '10.20.0.0/16', '192.168.7.0/24']);
  });

  it('stops naming the variable and the entry that is not a CIDR', () => {
    expect(() =>
      loadControlApiConfig({ ...DATABASE, TAVIO_PLATFORM_NETWORKS: '127.0.0.1/32,nonsense' }),
    ).toThrow(/TAVIO_PLATFORM_NETWORKS: nonsense is not a CIDR/);
    expect(() => loadControlApiConfig({ ...DATABASE, TAVIO_CUSTOMER_NETWORKS: '10.0.0.0/33' })).toThrow(
      /TAVIO_CUSTOMER_NETWORKS: 10.0.0.0\/33 is not a CIDR/,
    );
    expect(() => loadControlApiConfig({ ...DATABASE, TAVIO_CUSTOMER_NETWORKS: '10.0.0.1' })).toThrow(
      /TAVIO_CUSTOMER_NETWORKS: 10.0.0.1 is not a CIDR/,
    );
  });

  it('allows customer networks only inside loopback and private ranges', () => {
    for (const wide of ['0.0.0.0/0', '169.254.0.0/16', '10.0.0.0/7', '93.184.216.0/24', '::/0'])
      expect(() => loadControlApiConfig({ ...DATABASE, TAVIO_CUSTOMER_NETWORKS: wide }), wide).toThrow(
        /TAVIO_CUSTOMER_NETWORKS: .* is not inside a loopback or private range/,
      );
    expect(
      loadControlApiConfig({ ...DATABASE, TAVIO_CUSTOMER_NETWORKS: 'fd12::/16,100.64.0.0/10' })
        .customerNetworks,
    ).toEqual(['fd12::/16', '100.64.0.0/10']);
  });

  it("needs a region, a host key and the gateway's password file for a region host", () => {
    const passwd = { TAVIO_GATEWAY_PASSWD_FILE: '/run/gateway/passwd' };
    expect(() => loadRegionHostConfig({ TAVIO_HOST_KEY: 'tav_host_x', ...passwd })).toThrow(/region/);
    expect(() =>
      loadRegionHostConfig({ TAVIO_REGION: 'mars', TAVIO_HOST_KEY: 'tav_host_x', ...passwd }),
    ).toThrow(/region/);
    expect(() => loadRegionHostConfig({ TAVIO_REGION: 'ca', TAVIO_HOST_KEY: 'tav_host_x' })).toThrow(
      /TAVIO_GATEWAY_PASSWD_FILE/,
    );
    const config = loadRegionHostConfig({ TAVIO_REGION: 'ca', TAVIO_HOST_KEY: 'tav_host_x', ...passwd });
    expect(config.region).toBe('ca');
    expect(config.gatewayPasswdFile).toBe('/run/gateway/passwd');
  });

  it('refuses a registry whose region borrows another gateway or queue', () => {
    const registry = loadControlApiConfig(DATABASE).regions;
    expect(() => assertRegistryConsistent({ ...registry, ca: { ...registry.ca, gateway: 'us1' } })).toThrow(
      /gateway must be ca1/,
    );
    expect(() => assertRegistryConsistent({ ...registry, ca: { ...registry.ca, taskQueue: 'us1' } })).toThrow(
      /task queue us1 is shared/,
    );
  });
});

describe('environment worker secrets', () => {
  const credentials = {
    accessKeyId: 'AKIA',
    secretAccessKey: 's',
    sessionToken: 't',
    expiration: '2026-11-29T03:00:00.000Z',
  };
  const temporal = { token: 'eyJ.x.y', expiresAt: '2026-11-29T03:00:00.000Z' };
  const proxy = { username: 'e0123', password: 'p', expiresAt: '2026-11-29T03:00:00.000Z' };
  const payloadKey = {
    id: '0b7c9a2e-51a4-4d2b-9d65-1f3f0f5a7a11',
    key: Buffer.alloc(32, 7).toString('base64'),
  };

  it('start with credentials, a Temporal token, the payload key and gateway credentials, all four', () => {
    const all = { credentials, temporal, payloadKey, proxy };
    expect(initialWorkerSecretsSchema.parse(all)).toEqual(all);
    expect(() => initialWorkerSecretsSchema.parse({ credentials, temporal, proxy })).toThrow(/payloadKey/);
    expect(() => initialWorkerSecretsSchema.parse({ credentials, payloadKey, proxy })).toThrow(/temporal/);
    expect(() => initialWorkerSecretsSchema.parse({ temporal, payloadKey, proxy })).toThrow(/credentials/);
    expect(() => initialWorkerSecretsSchema.parse({ credentials, temporal, payloadKey })).toThrow(/proxy/);
  });

  it('renew either one, and refuse anything else', () => {
    expect(workerSecretsSchema.parse({ temporal })).toEqual({ temporal });
    expect(() => workerSecretsSchema.parse({ temporal, extra: 1 })).toThrow(/extra/);
    expect(() => workerSecretsSchema.parse({ credentials: { accessKeyId: 'x' } })).toThrow(/secretAccessKey/);
    expect(() => workerSecretsSchema.parse({ temporal: { token: 't', expiresAt: 'soon' } })).toThrow(
      /expiresAt/,
    );
  });
});
