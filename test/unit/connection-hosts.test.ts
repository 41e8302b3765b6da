import { describe, expect, it } from 'vitest';
import { loadControlApiConfig } from '../../common/config.js';
import {
  assertConnectionHostAllowed,
  connectionHostRefusal,
  resolveWithDns,
} from '../../control-api/connection-hosts.js';
import type { HostRefusalReason, Resolve } from '../../control-api/connection-hosts.js';
import { ProblemError } from '../../control-api/problems.js';

/** Names as a DNS server under an attacker's control could answer them. */
const NAMES: Record<string, string[]> = {
  localhost: ['127.0.0.1', '::1'],
  'rebind.test': ['169.254.169.254'],
  'split.test': ['93.184.216.34', '10.1.2.3'],
  'mapped.test': ['::ffff:127.0.0.1'],
  'hris.example.com': ['93.184.216.34', '2606:2800:220:1:248:1893:25c8:1946'],
  'vpn.customer.test': ['10.20.0.7'],
};
const resolve: Resolve = async (name) => {
  const addresses = NAMES[name];
  if (!addresses) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${name}`), { code: 'ENOTFOUND' });
  return addresses;
};

// The defaults: the platform on 127.0.0.1 and ::1, control API on 8080, S3/KMS on 5055.
const DATABASE = { TAVIO_DATABASE_URL: 'postgres://tavio_app:secret@127.0.0.1:55432/tavio' };
const platformOnly = loadControlApiConfig(DATABASE);
const localStack = loadControlApiConfig({ ...DATABASE, TAVIO_CUSTOMER_NETWORKS: '127.0.1.0/24' });
const vpn = loadControlApiConfig({ ...DATABASE, TAVIO_CUSTOMER_NETWORKS: '10.20.0.0/16' });

describe('connection hosts are judged by address, not by spelling', () => {
  const refused: Array<[string, HostRefusalReason]> = [
    ['http://localhost:8080', 'platform service'],
    ['http://[::1]:8080', 'platform'],
    ['http://[::ffff:127.0.0.1]:5055', 'platform service'],
    ['http://[::ffff:7f00:1]/', 'platform'],
    ['http://[::ffff:169.254.169.254]/', 'metadata'],
    ['http://2130706433/', 'platform'],
    ['http://0x7f000001/', 'platform'],
    ['http://0177.0.0.1/', 'platform'],
    ['http://127.1:7233/', 'platform service'],
    ['http://[::7f00:1]/', 'platform'],
    ['http://mapped.test/', 'platform'],
    ['http://0.0.0.0/', 'unspecified'],
    ['http://[::]/', 'unspecified'],
    ['http://169.254.169.254/', 'metadata'],
    ['http://[fd00:ec2::254]/', 'metadata'],
    ['http://[64:ff9b::a9fe:a9fe]/', 'metadata'],
    ['http://169.254.10.1/', 'link-local'],
    ['http://[fe80::1]/', 'link-local'],
    ['http://127.0.0.5/', 'loopback'],
    ['http://127.0.1.7:9000', 'loopback'],
    ['http://10.0.0.5/', 'private'],
    ['http://192.168.1.1/', 'private'],
    ['http://172.16.4.4/', 'private'],
    ['http://100.64.0.1/', 'private'],
    ['http://[fd12:3456::1]/', 'private'],
    ['http://224.0.0.1/', 'multicast'],
    ['http://255.255.255.255/', 'broadcast'],
    ['http://240.0.0.1/', 'reserved'],
    ['http://[2001:db8::1]/', 'reserved'],
    ['http://user:pw@example.com/', 'userinfo'],
    ['http://user@example.com/', 'userinfo'],
    ['https://api.example.com/?api_key=x', 'secret in query'],
    ['https://api.example.com/v1?tenant=acme&Access_Token=x', 'secret in query'],
    ['https://bucket.example.com/?X-Amz-Signature=x', 'secret in query'],
    ['ftp://files.example.com/', 'scheme'],
    ['http://rebind.test/', 'metadata'],
    ['http://split.test/', 'private'],
    ['http://nowhere.test/', 'unresolvable'],
  ];

  it.each(refused)('refuses %s as %s', async (url, reason) => {
    const refusal = await connectionHostRefusal(platformOnly, url, resolve);
    expect(refusal?.reason).toBe(reason);
    expect(refusal?.detail.startsWith(`${reason}: `)).toBe(true);
  });

  it.each([
    ['https://93.184.216.34/', platformOnly],
    ['https://[::ffff:93.184.216.34]/', platformOnly],
    ['https://hris.example.com/v1?tenant=acme&page=2', platformOnly],
    ['http://127.0.1.7:9000', localStack],
    ['http://vpn.customer.test:8443/', vpn],
  ])('allows %s', async (url, config) => {
    expect(await connectionHostRefusal(config, url, resolve)).toBeUndefined();
  });

  it('lifts only the loopback and private refusals for customer networks', async () => {
    const wide = loadControlApiConfig({ ...DATABASE, TAVIO_CUSTOMER_NETWORKS: '127.0.0.0/8,10.0.0.0/8' });
    const reasons = async (url: string) => (await connectionHostRefusal(wide, url, resolve))?.reason;
    expect(await reasons('http://127.0.0.1:9/')).toBe('platform');
    expect(await reasons('http://127.0.0.1:8080/')).toBe('platform service');
    expect(await reasons('http://169.254.169.254/')).toBe('metadata');
    expect(await reasons('http://127.0.1.7/')).toBeUndefined();
    expect(await reasons('http://10.9.9.9/')).toBeUndefined();
    expect(await reasons('http://192.168.1.1/')).toBe('private');
  });

  it('names what a refused host reaches, and never a secret', async () => {
    expect((await connectionHostRefusal(platformOnly, 'http://rebind.test/', resolve))?.detail).toBe(
      'metadata: rebind.test reaches 169.254.169.254, a cloud metadata address',
    );
    expect((await connectionHostRefusal(platformOnly, 'http://localhost:8080/', resolve))?.detail).toBe(
      'platform service: localhost:8080 reaches 127.0.0.1:8080, the control API',
    );
    expect((await connectionHostRefusal(localStack, 'http://[fe80::1]/', resolve))?.detail).toBe(
      'link-local: [fe80::1] is a link-local address',
    );
    const userinfo = await connectionHostRefusal(platformOnly, 'http://admin:hunter2@example.com/', resolve);
    expect(userinfo?.detail).not.toMatch(/admin|hunter2/);
    const query = await connectionHostRefusal(
      platformOnly,
      'https://x.example.com/?apiKey=s3cr3t-v4lue',
      resolve,
    );
    expect(query?.detail).toContain('apiKey');
    expect(query?.detail).not.toContain('s3cr3t-v4lue');
  });

  it('resolves names through the system resolver by default', async () => {
    const refusal = await connectionHostRefusal(platformOnly, 'http://localhost:8080/', resolveWithDns);
    expect(['platform service', 'platform']).toContain(refusal?.reason);
  });

  it('answers a refused host with 422 connection-host-refused', async () => {
    const error = await assertConnectionHostAllowed(platformOnly, 'http://[::1]:8080', resolve).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ProblemError);
    expect((error as ProblemError).toProblem()).toMatchObject({
      status: 422,
      type: 'https://tavio.dev/problems/connection-host-refused',
      detail: "platform: [::1]:8080 is in the platform's own networks",
    });
    await expect(
      assertConnectionHostAllowed(localStack, 'http://127.0.1.1:9/', resolve),
    ).resolves.toBeUndefined();
  });
});
