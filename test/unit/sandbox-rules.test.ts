import { describe, expect, it } from 'vitest';
import {
  addUidScript,
  isSandboxUserOf,
  removeUidScript,
  sandboxTableName,
  sandboxUserName,
  tableScript,
} from '../../workers/sandbox-rules.js';

const ENVIRONMENT = '3f2a9c1e-7b4d-4e8f-9a01-23456789abcd';

describe('sandbox user names', () => {
  it('marks the region and takes 16 hex digits of the environment id', () => {
    expect(sandboxUserName('us1', ENVIRONMENT)).toBe('tv-us1-3f2a9c1e7b4d4e8f');
    expect(sandboxUserName('eu1', ENVIRONMENT.toUpperCase())).toBe('tv-eu1-3f2a9c1e7b4d4e8f');
  });

  it('fits in the 32 characters of a Linux user name', () => {
    expect(sandboxUserName('ca1', ENVIRONMENT).length).toBeLessThanOrEqual(32);
  });

  it('refuses what is not an environment id or a gateway code', () => {
    expect(() => sandboxUserName('us1', 'root')).toThrow(/not an environment id/);
    expect(() => sandboxUserName('us1', `${ENVIRONMENT}0`)).toThrow(/not an environment id/);
    expect(() => sandboxUserName('us1; rm', ENVIRONMENT)).toThrow(/not a gateway code/);
  });

  it('recognises the users of its own region only', () => {
    const name = sandboxUserName('us1', ENVIRONMENT);
    expect(isSandboxUserOf('us1', name)).toBe(true);
    expect(isSandboxUserOf('ca1', name)).toBe(false);
    expect(isSandboxUserOf('us1', 'tv-us1-3f2a')).toBe(false);
    expect(isSandboxUserOf('us1', 'root')).toBe(false);
  });

  it('names the table after the gateway', () => {
    expect(sandboxTableName('eu1')).toBe('tavio_eu1');
  });
});

describe('sandbox nftables script', () => {
  const rules = {
    table: 'tavio_us1',
    temporal: [{ address: '127.0.0.1', port: 7233 }],
    gateway: [
      { address: '127.0.0.1', port: 8881 },
      { address: '::1', port: 8881 },
    ],
    gatewayConnectionLimit: 64,
  };

  it('replaces the table, lets worker sockets reach Temporal and the gateway, and rejects the rest', () => {
    expect(tableScript(rules)).toBe(
      [
        'table inet tavio_us1 {}',
        'delete table inet tavio_us1',
        'table inet tavio_us1 {',
        '  set workers {',
        '    type uid',
        '  }',
        '  set gateway_connections {',
        '    type uid',
        '    size 65535',
        '    flags dynamic',
        '  }',
        '  chain output {',
        '    type filter hook output priority filter; policy accept;',
        '    meta skuid @workers jump worker',
        '  }',
        '  chain worker {',
        '    ip daddr 127.0.0.1 tcp dport 8881 ct state new add @gateway_connections { meta skuid ct count over 64 } reject with tcp reset',
        '    ip6 daddr ::1 tcp dport 8881 ct state new add @gateway_connections { meta skuid ct count over 64 } reject with tcp reset',
        '    ip daddr 127.0.0.1 tcp dport 8881 accept',
        '    ip6 daddr ::1 tcp dport 8881 accept',
        '    ip daddr 127.0.0.1 tcp dport 7233 accept',
        '    meta l4proto tcp reject with tcp reset',
        '    reject with icmpx admin-prohibited',
        '  }',
        '}',
        '',
      ].join('\n'),
    );
  });

  it('refuses anything that is not an address, a port or a table name', () => {
    const gateway = (address: string, port = 8881) => ({ ...rules, gateway: [{ address, port }] });
    expect(() => tableScript(gateway('gateway.internal'))).toThrow(/not an IP address/);
    expect(() => tableScript(gateway('127.0.0.1 accept;'))).toThrow(/not an IP address/);
    expect(() => tableScript(gateway('127.0.0.1', 70000))).toThrow(/not a TCP port/);
    expect(() => tableScript({ ...rules, temporal: [] })).toThrow(/no gateway or Temporal address/);
    expect(() => tableScript({ ...rules, table: 'x }' })).toThrow(/not a table name/);
    expect(() => tableScript({ ...rules, gatewayConnectionLimit: 0 })).toThrow(/not a connection limit/);
  });

  it('adds a uid, and removes it from both sets without failing when it is absent', () => {
    expect(addUidScript('tavio_us1', 999)).toBe('add element inet tavio_us1 workers { 999 }\n');
    expect(removeUidScript('tavio_us1', 999)).toBe(
      [
        'add element inet tavio_us1 workers { 999 }',
        'delete element inet tavio_us1 workers { 999 }',
        'add element inet tavio_us1 gateway_connections { 999 }',
        'delete element inet tavio_us1 gateway_connections { 999 }',
        '',
      ].join('\n'),
    );
  });

  it('never puts root in the set', () => {
    expect(() => addUidScript('tavio_us1', 0)).toThrow(/not a sandbox uid/);
    expect(() => removeUidScript('tavio_us1', 0)).toThrow(/not a sandbox uid/);
  });
});
