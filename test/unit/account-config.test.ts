import { describe, expect, it } from 'vitest';
import {
  DEFAULT_CONTROL_ACCOUNT_ID,
  loadControlApiConfig,
  loadMigrationConfig,
  loadRegionHostConfig,
} from '../../common/config.js';

const DATABASE = { TAVIO_DATABASE_URL: 'postgres://tavio_app:secret@127.0.0.1:55432/tavio' };
const CONTROL_ACCOUNT = '444455556666';
const ORGANIZATIONS = {
  ...DATABASE,
  TAVIO_AWS_ENDPOINT: '',
  TAVIO_ACCOUNT_FACTORY: 'organizations',
  TAVIO_ACCOUNT_EMAIL_PATTERN: 'aws+{environmentId}@example.com',
  TAVIO_CONTROL_ACCOUNT_ID: CONTROL_ACCOUNT,
};
const without = (env: Record<string, string>, name: string) =>
  Object.fromEntries(Object.entries(env).filter(([key]) => key !== name));

const refusal = (env: Record<string, string>) => {
  try {
    loadControlApiConfig(env);
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error('the configuration was accepted');
};

describe('account factory configuration', () => {
  it('names the emulator pool as such, and still takes `pool` for it', () => {
    expect(loadControlApiConfig(DATABASE).accountFactory).toBe('emulator-pool');
    const aliased = loadControlApiConfig({ ...DATABASE, TAVIO_ACCOUNT_FACTORY: 'pool' });
    expect(aliased.accountFactory).toBe('emulator-pool');
    expect(aliased.organizations).toBeUndefined();
  });

  it('refuses `external`, which picked account ids at random, naming the factories there are', () => {
    expect(refusal({ ...DATABASE, TAVIO_ACCOUNT_FACTORY: 'external' })).toContain(
      'TAVIO_ACCOUNT_FACTORY is emulator-pool (alias pool; the local stack) or organizations',
    );
  });

  it('reads the Organizations settings with their defaults', () => {
    const config = loadControlApiConfig(ORGANIZATIONS);
    expect(config.accountFactory).toBe('organizations');
    expect(config.organizations).toEqual({
      emailPattern: 'aws+{environmentId}@example.com',
      accessRoleName: 'OrganizationAccountAccessRole',
      creationTimeoutSeconds: 240,
      region: 'us-east-1',
      endpoint: undefined,
    });
    const tuned = loadControlApiConfig({
      ...ORGANIZATIONS,
      TAVIO_ACCOUNT_PARENT_OU: 'ou-ab12-cd34ef56',
      TAVIO_ACCOUNT_ACCESS_ROLE: 'TavioBootstrap',
      TAVIO_ACCOUNT_CREATION_TIMEOUT_SECONDS: '60',
      AWS_REGION: 'eu-central-1',
    });
    expect(tuned.organizations).toMatchObject({
      parentOu: 'ou-ab12-cd34ef56',
      accessRoleName: 'TavioBootstrap',
      creationTimeoutSeconds: 60,
      region: 'eu-central-1',
    });
  });

  it('needs an address pattern for Organizations', () => {
    expect(refusal({ ...DATABASE, TAVIO_ACCOUNT_FACTORY: 'organizations' })).toContain(
      'TAVIO_ACCOUNT_EMAIL_PATTERN is required with TAVIO_ACCOUNT_FACTORY=organizations',
    );
  });

  it('refuses an address pattern without the environment id, or one that is no address', () => {
    expect(refusal({ ...ORGANIZATIONS, TAVIO_ACCOUNT_EMAIL_PATTERN: 'aws@example.com' })).toContain(
      'TAVIO_ACCOUNT_EMAIL_PATTERN must hold {environmentId}',
    );
    expect(refusal({ ...ORGANIZATIONS, TAVIO_ACCOUNT_EMAIL_PATTERN: '{environmentId}' })).toContain(
      'an address of 6 to 64 characters',
    );
    expect(
      refusal({
        ...ORGANIZATIONS,
        TAVIO_ACCOUNT_EMAIL_PATTERN: 'aws-accounts+{environmentId}@a-rather-long-domain.example.com',
      }),
    ).toContain('an address of 6 to 64 characters');
  });

  it('refuses a parent that is no OU or root, and a role that is no IAM role name', () => {
    expect(refusal({ ...ORGANIZATIONS, TAVIO_ACCOUNT_PARENT_OU: 'engineering' })).toContain(
      'TAVIO_ACCOUNT_PARENT_OU: an OU id (ou-...) or the root id (r-...)',
    );
    expect(refusal({ ...ORGANIZATIONS, TAVIO_ACCOUNT_ACCESS_ROLE: 'no spaces' })).toContain(
      'TAVIO_ACCOUNT_ACCESS_ROLE: an IAM role name',
    );
  });
});

describe('the control account', () => {
  const required =
    'TAVIO_CONTROL_ACCOUNT_ID is required with TAVIO_ACCOUNT_FACTORY=organizations or on AWS itself';

  it('is required with the Organizations factory, on AWS or on the local service', () => {
    expect(loadControlApiConfig(ORGANIZATIONS).controlAccountId).toBe(CONTROL_ACCOUNT);
    expect(refusal(without(ORGANIZATIONS, 'TAVIO_CONTROL_ACCOUNT_ID'))).toContain(required);
    const local = {
      ...without(ORGANIZATIONS, 'TAVIO_CONTROL_ACCOUNT_ID'),
      TAVIO_AWS_ENDPOINT: 'http://127.0.0.1:5055',
    };
    expect(refusal(local)).toContain(required);
    expect(refusal({ ...ORGANIZATIONS, TAVIO_CONTROL_ACCOUNT_ID: '' })).toContain(required);
  });

  it('is required on AWS itself whatever the factory', () => {
    expect(refusal({ ...DATABASE, TAVIO_AWS_ENDPOINT: '', TAVIO_ACCOUNT_FACTORY: 'pool' })).toContain(
      required,
    );
    expect(refusal({ ...DATABASE, AWS_ENDPOINT_URL: '' })).toContain(required);
  });

  it("is the local service's default account only for the local stack's pool", () => {
    expect(loadControlApiConfig(DATABASE).controlAccountId).toBe(DEFAULT_CONTROL_ACCOUNT_ID);
    expect(
      loadControlApiConfig({ ...DATABASE, TAVIO_CONTROL_ACCOUNT_ID: CONTROL_ACCOUNT }).controlAccountId,
    ).toBe(CONTROL_ACCOUNT);
    expect(refusal({ ...ORGANIZATIONS, TAVIO_CONTROL_ACCOUNT_ID: '1234' })).toContain(
      'TAVIO_CONTROL_ACCOUNT_ID: 12 digits',
    );
  });
});

describe('AWS credentials', () => {
  it('passes keys the configuration names, with a session token', () => {
    const config = loadRegionHostConfig({
      TAVIO_REGION: 'eu',
      TAVIO_HOST_KEY: 'tav_host_x',
      TAVIO_GATEWAY_PASSWD_FILE: '/tmp/passwd',
      AWS_ACCESS_KEY_ID: 'AKIAEXAMPLE',
      AWS_SECRET_ACCESS_KEY: 'secret',
      AWS_SESSION_TOKEN: 'token',
    });
    expect(config.aws).toEqual({
      accessKeyId: 'AKIAEXAMPLE',
      secretAccessKey: 'secret',
      sessionToken: 'token',
    });
  });

  it("leaves them to the SDK's default chain on AWS, and where a profile or a role names them", () => {
    expect(
      loadControlApiConfig({
        ...DATABASE,
        TAVIO_AWS_ENDPOINT: '',
        TAVIO_ACCOUNT_FACTORY: 'pool',
        TAVIO_CONTROL_ACCOUNT_ID: CONTROL_ACCOUNT,
      }).aws,
    ).toBe(undefined);
    expect(loadControlApiConfig({ ...DATABASE, AWS_PROFILE: 'tavio' }).aws).toBe(undefined);
    expect(
      loadControlApiConfig({ ...DATABASE, AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: '/v2/credentials/x' }).aws,
    ).toBe(undefined);
  });

  it("uses the local service's test keys when nothing names any", () => {
    expect(loadControlApiConfig(DATABASE).aws).toEqual({ accessKeyId: 'test', secretAccessKey: 'test' });
  });
});

describe('the region host and Temporal credentials', () => {
  const HOST = { TAVIO_REGION: 'eu', TAVIO_HOST_KEY: 'tav_host_x', TAVIO_GATEWAY_PASSWD_FILE: '/tmp/passwd' };

  it('refuses static Temporal credentials, which every worker would share, naming why', () => {
    const attempt = () =>
      loadRegionHostConfig({
        ...HOST,
        TAVIO_TEMPORAL_AUTH: 'static',
        TEMPORAL_ADDRESS: 'acme.a1b2c.tmprl.cloud:7233',
        TEMPORAL_API_KEY: 'deployment-wide-key',
      });
    expect(attempt).toThrow('TAVIO_TEMPORAL_AUTH=static is refused on a region host');
    expect(attempt).toThrow('per-namespace worker credentials are not built');
    expect(attempt).not.toThrow('deployment-wide-key');
  });

  it("keeps Tavio's per-namespace tokens, and static credentials for the control API", () => {
    expect(loadRegionHostConfig(HOST).temporal.auth).toBe('tavio-tokens');
    const api = loadControlApiConfig({ ...DATABASE, TAVIO_TEMPORAL_AUTH: 'static', TEMPORAL_API_KEY: 'k' });
    expect(api.temporal.auth).toBe('static');
  });
});

describe('the migrate command configuration', () => {
  const OWNER = 'postgres://tavio_owner:secret@127.0.0.1:55432/tavio';

  it('reads the migration URL, else the application URL, and nothing else', () => {
    expect(loadMigrationConfig({ TAVIO_DATABASE_MIGRATION_URL: OWNER, ...DATABASE })).toEqual({
      databaseMigrationUrl: OWNER,
    });
    expect(loadMigrationConfig(DATABASE)).toEqual({ databaseMigrationUrl: DATABASE.TAVIO_DATABASE_URL });
    // Settings the API would refuse are none of its business.
    expect(
      loadMigrationConfig({
        ...DATABASE,
        TAVIO_ACCOUNT_FACTORY: 'organizations',
        TAVIO_TEMPORAL_AUTH: 'static',
        TEMPORAL_CONFIG_FILE: '/nonexistent/temporal.toml',
        TAVIO_NAMESPACE_PROVIDER: 'cloud',
      }).databaseMigrationUrl,
    ).toBe(DATABASE.TAVIO_DATABASE_URL);
  });

  it('names the missing or wrong variable, never its value', () => {
    expect(() => loadMigrationConfig({})).toThrow(
      'TAVIO_DATABASE_MIGRATION_URL (or TAVIO_DATABASE_URL) is required',
    );
    const wrong = () =>
      loadMigrationConfig({ TAVIO_DATABASE_MIGRATION_URL: 'tavio_owner secret', ...DATABASE });
    expect(wrong).toThrow('TAVIO_DATABASE_MIGRATION_URL is not a URL');
    expect(wrong).not.toThrow('secret');
    expect(() => loadMigrationConfig({ TAVIO_DATABASE_URL: 'tavio' })).toThrow(
      'TAVIO_DATABASE_URL is not a URL',
    );
  });
});
