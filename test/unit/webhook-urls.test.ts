import { describe, expect, it } from 'vitest';
import { loadControlApiConfig, webhookAttemptsAllowed } from '../../common/config.js';
import type { Resolve } from '../../control-api/connection-hosts.js';
import { ProblemError } from '../../control-api/problems.js';
import { assertWebhookUrlAllowed } from '../../control-api/webhooks/endpoints.js';
import { failureTypeOf, summaryCounts } from '../../control-api/webhooks/events.js';
import { MAX_READ_GAP_MS, nextReadMark } from '../../control-api/webhooks/deliveries.js';

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

  it("refuses a secret in the query in a webhook's words, not a connection's", async () => {
    for (const url of ['https://hooks.example.com/t?token=abc', 'https://u:p@hooks.example.com/t']) {
      const problem = await problemOf(url);
      expect(problem!.kind).toBe('webhook-url-refused');
      expect(problem!.message).toMatch(
        /a webhook URL carries no credentials: receivers verify each delivery by its signature$/,
      );
      expect(problem!.message).not.toMatch(/connection/);
    }
    expect((await problemOf('https://hooks.example.com/t?token=abc'))!.message).toMatch(
      /^url: secret in query: query parameter token looks like a secret/,
    );
  });
});

describe('reading a running delivery', () => {
  const now = Date.parse('2026-11-30T06:00:00Z');
  const attempt = (secondsAgo: number) => ({
    at: new Date(now - secondsAgo * 1000).toISOString(),
    statusCode: 500,
    latencyMs: 200,
    error: 'status 500',
  });
  const gap = (mark: { nextAt: number }) => mark.nextAt - now;

  it('reads again once its next attempt could have happened, never later than 30 s from now', () => {
    // One attempt 1 s ago, its next after 5 s: read 4.2 s + 1 s from now.
    expect(gap(nextReadMark([5, 600], [attempt(1)], undefined, true, now))).toBe(5_200);
    // The second attempt waits 600 s: read after 30 s all the same (a close is seen by then).
    expect(gap(nextReadMark([5, 600], [attempt(10), attempt(1)], undefined, true, now))).toBe(
      MAX_READ_GAP_MS,
    );
  });

  it('backs off from a second, doubling up to 30 s, while no new attempt shows', () => {
    let mark = nextReadMark([5], [], undefined, false, now);
    const gaps = [gap(mark)];
    for (let i = 0; i < 6; i++) {
      mark = nextReadMark([5], [attempt(10)], mark, false, now);
      gaps.push(gap(mark));
    }
    expect(gaps).toEqual([1_000, 2_000, 4_000, 8_000, 16_000, MAX_READ_GAP_MS, MAX_READ_GAP_MS]);
    // A new attempt starts over.
    expect(nextReadMark([5], [attempt(1)], mark, true, now)).toEqual({ nextAt: now + 5_200, misses: 0 });
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
    [
      { TAVIO_WEBHOOK_RETRY_DELAYS: '1', TAVIO_WEBHOOK_RETRY_HOURS: '168' },
      /TAVIO_WEBHOOK_RETRY_DELAYS and TAVIO_WEBHOOK_RETRY_HOURS allow more than 500 attempts/,
    ],
    [
      { TAVIO_WEBHOOK_RETRY_DELAYS: '5,30,60', TAVIO_WEBHOOK_RETRY_HOURS: '24' },
      /TAVIO_WEBHOOK_RETRY_DELAYS and TAVIO_WEBHOOK_RETRY_HOURS allow more than 500 attempts/,
    ],
  ])('refuses %o', (env, message) => {
    expect(() => load(env)).toThrow(message);
  });

  it('counts the attempts a schedule allows: the first at once, then one per wait that starts in time', () => {
    expect(webhookAttemptsAllowed([1, 2, 4], 20 / 3600, 500)).toBe(7);
    // The default: 5 waits up to 4355 s, then one an hour within the day.
    expect(webhookAttemptsAllowed([5, 30, 120, 600, 3600], 24, 500)).toBe(1 + 5 + 22);
    expect(webhookAttemptsAllowed([37], 5, 500)).toBe(487);
    expect(() => load({ TAVIO_WEBHOOK_RETRY_DELAYS: '37', TAVIO_WEBHOOK_RETRY_HOURS: '5' })).not.toThrow();
    // 500 waits of 36 s fit in 5 hours: 501 attempts, one too many; counting stops there.
    expect(webhookAttemptsAllowed([36], 5, 500)).toBe(501);
    expect(webhookAttemptsAllowed([1], 168, 500)).toBe(501);
  });
});
