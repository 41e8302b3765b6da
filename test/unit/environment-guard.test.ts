import { MockActivityEnvironment } from '@temporalio/testing';
import { describe, expect, it } from 'vitest';
import { activityEnvironmentGuard, assertOwnNamespace } from '../../workers/environment-guard.js';
import { WORKER_SETTINGS as settings } from '../support/worker-settings.js';

describe('environment worker guard', () => {
  it("refuses to start for another environment's namespace or another region's queue", () => {
    expect(() => assertOwnNamespace(settings)).not.toThrow();
    expect(() => assertOwnNamespace({ ...settings, namespace: 'acme-staging-1f2e3d4c' })).toThrow(
      "refusing to start: namespace acme-staging-1f2e3d4c is not environment acme-production-1f2e3d4c's",
    );
    // Another environment's id, or the name without it, is not this environment's.
    expect(() => assertOwnNamespace({ ...settings, namespace: 'acme-production-99999999' })).toThrow();
    expect(() => assertOwnNamespace({ ...settings, namespace: 'acme-production' })).toThrow();
    // An environment named before names carried ids is checked by the old rule, and only it.
    const legacy = { ...settings, namespace: 'acme-production', legacyNamespace: true };
    expect(() => assertOwnNamespace(legacy)).not.toThrow();
    expect(() => assertOwnNamespace({ ...legacy, namespace: 'acme-production-1f2e3d4c' })).toThrow();
    expect(() => assertOwnNamespace({ ...settings, taskQueue: 'us1' })).toThrow(
      "refusing to start: task queue us1 is not region eu's",
    );
  });

  it('refuses an activity task of another namespace or queue before it runs', async () => {
    let ran = false;
    const activity = async () => {
      ran = true;
      return 'ran';
    };
    const own = new MockActivityEnvironment(
      { workflowNamespace: 'acme-production-1f2e3d4c', taskQueue: 'eu1' },
      { interceptors: [activityEnvironmentGuard(settings)] },
    );
    await expect(own.run(activity)).resolves.toBe('ran');
    ran = false;
    const foreign = new MockActivityEnvironment(
      { workflowNamespace: 'globex-production', taskQueue: 'eu1', activityType: 'syncEmployeePage' },
      { interceptors: [activityEnvironmentGuard(settings)] },
    );
    await expect(foreign.run(activity)).rejects.toMatchObject({
      type: 'WrongEnvironment',
      nonRetryable: true,
    });
    expect(ran).toBe(false);
  });
});
