import 'vitest';
import type { TestProject } from 'vitest/node';
import { startFaultProxy } from '../../fixtures/fault-proxy.js';
import { stackUp } from '../../scripts/stack/services.js';
import { providePlatform } from '../support/global-setup.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The proxy every S3 and KMS call of the platform goes through; `POST /_fault` makes it fail. */
    storageFaultUrl: string;
  }
}

/**
 * The integration tests' platform, with every S3 and KMS call (the control API's, and the workers'
 * through their gateway) sent through a proxy that the fault suite can make answer 5xx.
 */
export default async function setup(project: TestProject) {
  const stack = await stackUp({ quiet: true });
  const proxy = await startFaultProxy(stack.awsEndpoint);
  project.provide('storageFaultUrl', proxy.url);
  const teardown = await providePlatform(project, { ...stack, awsEndpoint: proxy.url });
  return async () => {
    await teardown();
    await proxy.close();
  };
}
