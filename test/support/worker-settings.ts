import type { EnvironmentWorkerSettings } from '../../common/config.js';

/** An environment worker's settings as its region host writes them: the eu environment acme/production. */
export const WORKER_SETTINGS: EnvironmentWorkerSettings = {
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
