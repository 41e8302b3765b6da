import { appendFile, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { gatewayEgress } from '../../control-api/gateway-log.js';
import { proxyUserOf } from '../../common/gateway-identity.js';

const ENV = '2f1c6a4e-8d3b-4c55-9a0e-5b7d9e1f3a21';
const OTHER_ENV = '7a9b0c1d-2e3f-4a5b-8c6d-7e8f9a0b1c2d';

/** A line as the gateway's `tavio` log format writes it. */
function line(
  env: string,
  run: string,
  method: string,
  url: string,
  server = '127.0.1.1',
  at = '1795979336.756',
): string {
  return `${at} env=${proxyUserOf(env)} run=${run} server=${server} method=${method} url=${url} status=200 squid=TCP_MISS bytes=10\n`;
}

describe('gatewayEgress', () => {
  let dir: string;
  let log: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gateway-log-'));
    log = join(dir, 'access.log');
  });
  afterEach(async () => {
    vi.useRealTimers();
    await rm(dir, { recursive: true, force: true });
  });

  it("counts a run's requests that reached a server, by host, and no one else's", async () => {
    await writeFile(
      log,
      line(ENV, 'run-a', 'GET', 'http://hris.example:8080/v1/employees?limit=100') +
        line(ENV, 'run-a', 'POST', 'http://dest.example/v1/employees/batch-upsert') +
        line(ENV, 'run-a', 'CONNECT', 'kms.us-east-1.amazonaws.com:443') +
        // Refused by the gateway: it never left.
        line(ENV, 'run-a', 'GET', 'http://evil.example/', '-') +
        // A run whose tag starts with this one's, and another environment's run of the same tag.
        line(ENV, 'run-ab', 'GET', 'http://hris.example:8080/v1/employees') +
        line(OTHER_ENV, 'run-a', 'GET', 'http://hris.example:8080/v1/employees'),
    );
    expect(await gatewayEgress(log, ENV, 'run-a', new Date(0))).toEqual({
      'hris.example:8080': 1,
      'dest.example': 1,
      'kms.us-east-1.amazonaws.com:443': 1,
    });
  });

  it('reads only what was logged after an earlier read that came before the run, unless the log was replaced', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const first = Date.now();
    await writeFile(log, line(ENV, 'run-b', 'GET', 'http://before.example/'));
    // This read sees the log as it is before run-b exists: run-b is created a minute later.
    expect(await gatewayEgress(log, ENV, 'run-c', new Date(first))).toEqual({});
    const created = new Date(first + 60_000);
    await appendFile(log, line(ENV, 'run-b', 'GET', 'http://after.example/'));
    vi.setSystemTime(first + 120_000);
    expect(await gatewayEgress(log, ENV, 'run-b', created)).toEqual({ 'after.example': 1 });
    // A run created before that earlier read is read from the start.
    expect(await gatewayEgress(log, ENV, 'run-b', new Date(0))).toEqual({
      'before.example': 1,
      'after.example': 1,
    });
    // Rotated: a new file in its place is read whole.
    await writeFile(join(dir, 'next.log'), line(ENV, 'run-b', 'GET', 'http://rotated.example/'));
    await rename(join(dir, 'next.log'), log);
    expect(await gatewayEgress(log, ENV, 'run-b', created)).toEqual({ 'rotated.example': 1 });
    // Truncated in place (same inode) and written again past the earlier size, before a run created
    // after that read: read whole too.
    vi.setSystemTime(first + 300_000);
    const later = (host: string) =>
      line(ENV, 'run-b', 'GET', `http://${host}/`, '127.0.1.1', '1795979999.001');
    await writeFile(
      log,
      later('truncated.example') + later('truncated.example') + later('truncated.example'),
    );
    expect(await gatewayEgress(log, ENV, 'run-b', new Date(first + 200_000))).toEqual({
      'truncated.example': 3,
    });
  });

  it('answers nothing for a log that is not there', async () => {
    expect(await gatewayEgress(join(dir, 'missing.log'), ENV, 'run-a', new Date(0))).toBeUndefined();
  });
});
