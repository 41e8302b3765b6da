import { describe, expect, it } from 'vitest';
import { ENVIRONMENT_WORKER_SETTINGS_VAR, loadEnvironmentWorkerSettings } from '../../common/config.js';
import { startWorkerTracing } from '../../common/telemetry/worker-traces.js';

const SETTINGS = {
  organization: 'acme',
  environment: 'production',
  environmentId: '1f2e3d4c-aaaa-4bbb-8ccc-123456789abc',
  region: 'eu',
  namespace: 'acme-production-1f2e3d4c',
  legacyNamespace: false,
  taskQueue: 'eu1',
  bucket: 'tavio-acme-production-8d2f3c1e',
  keyArn: 'arn:aws:kms:eu-central-1:210987654321:key/0f6e2a4c-1111-4222-8333-944455556666',
  awsRegion: 'eu-central-1',
  gatewayUrl: 'http://127.0.0.1:8883',
  temporal: { address: '127.0.0.1:7233', auth: 'tavio-tokens' },
  payloadLimitBytes: 16384,
  responseLimitBytes: 65536,
  logLevel: 'warn',
  workflowBundlePath: '/nonexistent/workflows.js',
  hostId: 'eu-host',
};

const load = (settings: object, env: Record<string, string> = {}) =>
  loadEnvironmentWorkerSettings({ ...env, [ENVIRONMENT_WORKER_SETTINGS_VAR]: JSON.stringify(settings) });

describe("an environment worker's settings", () => {
  it('name Temporal once, as `temporal`, which is required', () => {
    const settings = load(SETTINGS);
    expect(settings.temporal).toEqual({ address: '127.0.0.1:7233', auth: 'tavio-tokens' });
    expect(settings).not.toHaveProperty('temporalAddress');
    const addressOnly: Record<string, unknown> = { ...SETTINGS, temporalAddress: '127.0.0.1:7233' };
    delete addressOnly.temporal;
    expect(() => load(addressOnly)).toThrow(/temporal/);
  });

  it('say whether the worker traces, and nothing else in its environment does', () => {
    expect(load({ ...SETTINGS, traces: true }).traces).toBe(true);
    expect(() => load({ ...SETTINGS, traces: '1' })).toThrow(/traces/);
    // The variable that used to switch tracing on no longer does.
    const settings = load(SETTINGS, { TAVIO_TRACES_TO_HOST: '1' });
    expect(settings.traces).toBeUndefined();
    expect(startWorkerTracing(settings)).toBeUndefined();
    expect(startWorkerTracing({ traces: false })).toBeUndefined();
  });
});
