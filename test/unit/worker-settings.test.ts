import { describe, expect, it } from 'vitest';
import { ENVIRONMENT_WORKER_SETTINGS_VAR, loadEnvironmentWorkerSettings } from '../../common/config.js';
import { startWorkerTracing } from '../../common/telemetry/worker-traces.js';
import { WORKER_SETTINGS as SETTINGS } from '../support/worker-settings.js';

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
