import { describe, expect, it } from 'vitest';
import { loadControlApiConfig, loadRegionHostConfig } from '../../common/config.js';

const DATABASE = { TAVIO_DATABASE_URL: 'postgres://tavio_app:secret@127.0.0.1:55432/tavio' };
const ORGANIZATIONS = {
  ...DATABASE,
  TAVIO_AWS_ENDPOINT: '',
  TAVIO_ACCOUNT_FACTORY: 'organizations',
  TAVIO_ACCOUNT_EMAIL_PATTERN: 'aws+{environmentId}@example.com',
};

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
      loadControlApiConfig({ ...DATABASE, TAVIO_AWS_ENDPOINT: '', TAVIO_ACCOUNT_FACTORY: 'pool' }).aws,
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
