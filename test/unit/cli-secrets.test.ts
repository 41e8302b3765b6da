import { describe, expect, it } from 'vitest';
import { generateKey } from '../../control-api/keys.js';
import { refuseSecretsOnArgv } from '../../cli/secrets.js';

describe('the CLI refuses secrets on its command line', () => {
  it.each([
    [['connections', 'create', '--password', 'hunter2']],
    [['connections', 'create', '--api-key=abc']],
    [['connections', 'create', '--option=apiKey=abc']],
    [['runs', 'start', 'token=abc']],
    [['keys', 'list', `--note=${generateKey('environment').key}`]],
  ])('%j', (args) => {
    let refusal: unknown;
    try {
      refuseSecretsOnArgv(args);
    } catch (error) {
      refusal = error;
    }
    expect(refusal).toMatchObject({ name: 'UsageError' });
    // The refusal names where the secret was, never the secret.
    expect(String((refusal as Error).message)).not.toMatch(/hunter2|abc|tav_env_/);
  });

  it('takes paths to secrets and ordinary options', () => {
    expect(() =>
      refuseSecretsOnArgv([
        'connections',
        'create',
        '--credentials-file',
        'c.json',
        '--api-key-file=k',
        '--name',
        'hris',
      ]),
    ).not.toThrow();
  });
});
