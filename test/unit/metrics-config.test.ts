import { describe, expect, it } from 'vitest';
import { loadControlApiConfig, loadRegionHostConfig } from '../../common/config.js';

const API = { TAVIO_DATABASE_URL: 'postgres://tavio_app:secret@127.0.0.1:55432/tavio' };
const HOST = { TAVIO_REGION: 'us', TAVIO_HOST_KEY: 'tav_host_x', TAVIO_GATEWAY_PASSWD_FILE: '/tmp/passwd' };

describe('metrics listeners in the configuration', () => {
  it('are off by default and bind to loopback', () => {
    expect(loadControlApiConfig(API)).toMatchObject({ metricsPort: 0, metricsHost: '127.0.0.1' });
    expect(loadRegionHostConfig(HOST)).toMatchObject({ metricsPort: 0, metricsHost: '127.0.0.1' });
  });

  it('take the port and address they are given', () => {
    const api = loadControlApiConfig({ ...API, TAVIO_METRICS_PORT: '9464', TAVIO_METRICS_HOST: '10.0.0.5' });
    expect(api).toMatchObject({ metricsPort: 9464, metricsHost: '10.0.0.5' });
    expect(loadRegionHostConfig({ ...HOST, TAVIO_HOST_METRICS_PORT: '9465' }).metricsPort).toBe(9465);
  });

  it('refuse a port that is not one', () => {
    expect(() => loadControlApiConfig({ ...API, TAVIO_METRICS_PORT: '70000' })).toThrow(/metricsPort/);
    expect(() => loadRegionHostConfig({ ...HOST, TAVIO_HOST_METRICS_PORT: 'x' })).toThrow(/metricsPort/);
  });
});
