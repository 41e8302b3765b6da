import { describe, expect, it } from 'vitest';
import { loadControlApiConfig } from '../../common/config.js';
import type { Resolve } from '../../control-api/connection-hosts.js';
import { ProblemError } from '../../control-api/problems.js';
import { assertWebhookUrlAllowed } from '../../control-api/webhooks/endpoints.js';
import { failureTypeOf, summaryCounts } from '../../control-api/webhooks/events.js';

const NAMES: Record<string, string[]> = {
  'hooks.example.com': ['93.184.216.34'],
  'rebind.test': ['169.254.169.254'],
  'internal.test': ['10.1.2.3'],
};
const resolve: Resolve = async (name) => NAMES[name] ?? [];
const config = loadControlApiConfig({
  TAVIO_DATABASE_URL: 'postgres://tavio_app:secret@127.0.0.1:55432/tavio',
  TAVIO_CUSTOMER_NETWORKS: '127.0.1.0/24',
});

async function problemOf(url: string): Promise<ProblemError | undefined> {
  return assertWebhookUrlAllowed(config, url, resolve).then(
    () => undefined,
    (error: unknown) => error as ProblemError,
  );
}

describe('webhook URLs', () => {
  it('take https to a public host, and plain http only to an address of the customer networks', async () => {
    expect(await problemOf('https://hooks.example.com/tavio')).toBeUndefined();
    expect(await problemOf('http://127.0.1.1:4000/hooks')).toBeUndefined();
  });

  it.each([
    ['http://hooks.example.com/tavio', /^url: http:\/\/hooks.example.com is not https/],
    ['ftp://hooks.example.com/tavio', /^url: ftp:/],
    ['https://rebind.test/', /^url: metadata/],
    ['https://internal.test/', /^url: private/],
    ['https://127.0.0.1:8080/', /^url: platform/],
    ['https://user:pw@hooks.example.com/', /^url: userinfo/],
    ['https://nowhere.test/', /^url: unresolvable/],
    ['http://127.0.0.9/', /^url: .*not https/],
  ])('refuse %s with 422 webhook-url-refused naming url', async (url, detail) => {
    const problem = await problemOf(url);
    expect(problem).toBeInstanceOf(ProblemError);
    expect([problem!.status, problem!.kind]).toEqual([422, 'webhook-url-refused']);
    expect(problem!.message).toMatch(detail);
  });
});

describe('webhook payload data', () => {
  it("keeps a summary's numbers only", () => {
    expect(
      summaryCounts({ recordsRead: 3, checksum: 'abc', egress: { 'a:1': 2 }, durationMs: 10, mode: 'full' }),
    ).toEqual({ recordsRead: 3, durationMs: 10 });
    expect(summaryCounts(null)).toEqual({});
  });

  it("keeps a failure's type name, never its message", () => {
    expect(failureTypeOf('SourceAuthRejected: source answered 401 for jane@example.com')).toBe(
      'SourceAuthRejected',
    );
    expect(failureTypeOf('environment retired')).toBeNull();
    expect(failureTypeOf(null)).toBeNull();
  });
});

describe('webhook retry configuration', () => {
  const load = (env: Record<string, string>) =>
    loadControlApiConfig({ TAVIO_DATABASE_URL: 'postgres://tavio_app:secret@127.0.0.1:55432/tavio', ...env });

  it('retries for 24 hours with growing waits by default, and takes short schedules for tests', () => {
    expect(load({}).webhookRetry).toEqual({ delaysSeconds: [5, 30, 120, 600, 3600], hours: 24 });
    expect(
      load({ TAVIO_WEBHOOK_RETRY_DELAYS: '1, 2,4', TAVIO_WEBHOOK_RETRY_HOURS: '0.01' }).webhookRetry,
    ).toEqual({
      delaysSeconds: [1, 2, 4],
      hours: 0.01,
    });
  });

  it.each([
    [{ TAVIO_WEBHOOK_RETRY_DELAYS: '' }, /TAVIO_WEBHOOK_RETRY_DELAYS/],
    [{ TAVIO_WEBHOOK_RETRY_DELAYS: '5,0' }, /TAVIO_WEBHOOK_RETRY_DELAYS/],
    [{ TAVIO_WEBHOOK_RETRY_DELAYS: '5,soon' }, /TAVIO_WEBHOOK_RETRY_DELAYS/],
    [{ TAVIO_WEBHOOK_RETRY_HOURS: '0' }, /webhookRetry/],
    [{ TAVIO_WEBHOOK_RETRY_HOURS: '1000' }, /webhookRetry/],
  ])('refuses %o', (env, message) => {
    expect(() => load(env)).toThrow(message);
  });
});
