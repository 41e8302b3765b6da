import proto from '@temporalio/proto';
import { describe, expect, it } from 'vitest';
import {
  CLOUD_OWNER_TAG,
  CloudNamespaceNameInvalid,
  CloudOperationFailed,
  CloudOperationTimedOut,
  temporalCloudNamespaces,
} from '../../control-api/provisioning/namespaces/temporal-cloud.js';
import { NamespaceNotOwned } from '../../control-api/provisioning/namespaces/provider.js';

type CloudService = proto.temporal.api.cloud.cloudservice.v1.CloudService;
const { State } = proto.temporal.api.cloud.operation.v1.AsyncOperation;
const KEYWORD =
  proto.temporal.api.cloud.namespace.v1.NamespaceSpec.SearchAttributeType.SEARCH_ATTRIBUTE_TYPE_KEYWORD;
const TAVIO_ATTRIBUTES = {
  TavioOrganization: KEYWORD,
  TavioEnvironment: KEYWORD,
  TavioRegion: KEYWORD,
  TavioIntegration: KEYWORD,
};
const ENV_ID = '1f2e3d4c-0000-4000-8000-000000000001';
const NAMESPACE = 'acme-production-1f2e3d4c';
const REGIONS = { us: 'aws-us-east-1', ca: 'aws-ca-central-1', eu: 'aws-eu-central-1' };

type Call = [method: string, request: unknown];
const grpcError = (code: number) => Object.assign(new Error(`grpc ${code}`), { code });

/** A Cloud Ops service that records each request and answers from `answers`, per method in order. */
function recordingCloud(answers: Record<string, unknown[]>) {
  const calls: Call[] = [];
  const cloudService = new Proxy(
    {},
    {
      get: (_target, method: string) => async (request: unknown) => {
        calls.push([method, request]);
        const answer = answers[method]?.shift();
        if (answer === undefined) throw new Error(`unexpected ${method}`);
        if (answer instanceof Error) throw answer;
        return answer;
      },
    },
  ) as CloudService;
  return { cloudService, calls };
}

const operation = (id: string, state: number, failureReason = '') => ({
  asyncOperation: { id, state, failureReason },
});
const provider = (cloudService: CloudService, extra = {}) =>
  temporalCloudNamespaces({
    cloudService,
    account: 'a1b2c',
    regions: REGIONS,
    sleep: async () => undefined,
    ...extra,
  });

describe('Temporal Cloud namespaces', () => {
  it('creates the namespace with its region, retention, auth, Keyword attributes and owner tag, and waits on the operation', async () => {
    const { cloudService, calls } = recordingCloud({
      createNamespace: [{ namespace: `${NAMESPACE}.a1b2c`, ...operation('op-1', State.STATE_PENDING) }],
      getAsyncOperation: [
        operation('op-1', State.STATE_IN_PROGRESS),
        operation('op-1', State.STATE_FULFILLED),
      ],
    });
    const ca = '-----BEGIN CERTIFICATE-----\nca\n-----END CERTIFICATE-----\n';
    await provider(cloudService, { acceptedClientCaPem: ca }).register({
      namespace: NAMESPACE,
      environmentId: ENV_ID,
      region: 'ca',
    });
    expect(calls).toEqual([
      [
        'createNamespace',
        {
          spec: {
            name: NAMESPACE,
            regions: ['aws-ca-central-1'],
            retentionDays: 3,
            apiKeyAuth: { enabled: true },
            mtlsAuth: { enabled: true, acceptedClientCa: Buffer.from(ca) },
            searchAttributes: TAVIO_ATTRIBUTES,
          },
          tags: { [CLOUD_OWNER_TAG]: ENV_ID },
        },
      ],
      ['getAsyncOperation', { asyncOperationId: 'op-1' }],
      ['getAsyncOperation', { asyncOperationId: 'op-1' }],
    ]);
  });

  it('adopts an existing namespace only when it carries this environment tag', async () => {
    const mine = recordingCloud({
      createNamespace: [grpcError(6)],
      getNamespace: [
        {
          namespace: {
            spec: { name: NAMESPACE },
            resourceVersion: 'v1',
            tags: { [CLOUD_OWNER_TAG]: ENV_ID },
          },
        },
      ],
    });
    await expect(
      provider(mine.cloudService).register({ namespace: NAMESPACE, environmentId: ENV_ID, region: 'us' }),
    ).resolves.toBeInstanceOf(Date);
    expect(mine.calls[1]).toEqual(['getNamespace', { namespace: `${NAMESPACE}.a1b2c` }]);
    const theirs = recordingCloud({
      createNamespace: [grpcError(6)],
      getNamespace: [
        {
          namespace: {
            spec: { name: NAMESPACE },
            resourceVersion: 'v1',
            tags: { [CLOUD_OWNER_TAG]: 'other' },
          },
        },
      ],
    });
    await expect(
      provider(theirs.cloudService).register({ namespace: NAMESPACE, environmentId: ENV_ID, region: 'us' }),
    ).rejects.toThrow(NamespaceNotOwned);
  });

  it('refuses a name Cloud would refuse, before any request', async () => {
    const { cloudService, calls } = recordingCloud({});
    const tooLong = 'abcdefghij-abcdefghijklmnopqrst-abcdefghi';
    await expect(
      provider(cloudService).register({ namespace: tooLong, environmentId: ENV_ID, region: 'us' }),
    ).rejects.toThrow(CloudNamespaceNameInvalid);
    await expect(provider(cloudService).remove('Acme_prod')).rejects.toThrow(CloudNamespaceNameInvalid);
    expect(calls).toEqual([]);
  });

  it('names a failed or rejected operation, with Cloud reason', async () => {
    const { cloudService } = recordingCloud({
      createNamespace: [operation('op-2', State.STATE_PENDING)],
      getAsyncOperation: [operation('op-2', State.STATE_REJECTED, 'quota reached')],
    });
    const attempt = provider(cloudService).register({
      namespace: NAMESPACE,
      environmentId: ENV_ID,
      region: 'eu',
    });
    await expect(attempt).rejects.toThrow(CloudOperationFailed);
    await expect(attempt).rejects.toThrow(
      /creating namespace .* was rejected in Temporal Cloud: quota reached/,
    );
  });

  it('stops waiting after its timeout with a named error', async () => {
    const { cloudService } = recordingCloud({
      createNamespace: [operation('op-3', State.STATE_PENDING)],
      getAsyncOperation: [operation('op-3', State.STATE_IN_PROGRESS)],
    });
    const sleep = () => new Promise<void>((resolve) => setTimeout(resolve, 5));
    await expect(
      provider(cloudService, { operationTimeoutMs: 1, sleep }).register({
        namespace: NAMESPACE,
        environmentId: ENV_ID,
        region: 'us',
      }),
    ).rejects.toThrow(CloudOperationTimedOut);
  });

  it('adds missing search attributes as Keyword through an update naming the resource version', async () => {
    const spec = {
      name: NAMESPACE,
      regions: ['aws-us-east-1'],
      retentionDays: 3,
      searchAttributes: { TavioRegion: KEYWORD },
    };
    const { cloudService, calls } = recordingCloud({
      getNamespace: [{ namespace: { spec, resourceVersion: 'v7' } }],
      updateNamespace: [operation('op-4', State.STATE_FULFILLED)],
    });
    await provider(cloudService).ensureSearchAttributes(NAMESPACE);
    expect(calls).toEqual([
      ['getNamespace', { namespace: `${NAMESPACE}.a1b2c` }],
      [
        'updateNamespace',
        {
          namespace: `${NAMESPACE}.a1b2c`,
          spec: { ...spec, searchAttributes: TAVIO_ATTRIBUTES },
          resourceVersion: 'v7',
        },
      ],
    ]);
  });

  it('changes nothing when every attribute exists, or the retention is already in force', async () => {
    const spec = { name: NAMESPACE, retentionDays: 7, searchAttributes: TAVIO_ATTRIBUTES };
    const { cloudService, calls } = recordingCloud({
      getNamespace: [
        { namespace: { spec, resourceVersion: 'v1' } },
        { namespace: { spec, resourceVersion: 'v1' } },
      ],
    });
    await provider(cloudService).ensureSearchAttributes(NAMESPACE);
    await provider(cloudService).setHistoryRetention(NAMESPACE, 7);
    expect(calls.map(([method]) => method)).toEqual(['getNamespace', 'getNamespace']);
  });

  it('sets history retention in days', async () => {
    const spec = { name: NAMESPACE, retentionDays: 3, searchAttributes: TAVIO_ATTRIBUTES };
    const { cloudService, calls } = recordingCloud({
      getNamespace: [{ namespace: { spec, resourceVersion: 'v2' } }],
      updateNamespace: [operation('op-5', State.STATE_FULFILLED)],
    });
    await provider(cloudService).setHistoryRetention(NAMESPACE, 30);
    expect(calls[1]).toEqual([
      'updateNamespace',
      { namespace: `${NAMESPACE}.a1b2c`, spec: { ...spec, retentionDays: 30 }, resourceVersion: 'v2' },
    ]);
  });

  it('deletes with the current resource version and waits; a missing namespace counts as deleted', async () => {
    const { cloudService, calls } = recordingCloud({
      getNamespace: [{ namespace: { spec: { name: NAMESPACE }, resourceVersion: 'v9' } }, grpcError(5)],
      deleteNamespace: [operation('op-6', State.STATE_PENDING)],
      getAsyncOperation: [operation('op-6', State.STATE_FULFILLED)],
    });
    await provider(cloudService).remove(NAMESPACE);
    await provider(cloudService).remove(NAMESPACE);
    expect(calls).toEqual([
      ['getNamespace', { namespace: `${NAMESPACE}.a1b2c` }],
      ['deleteNamespace', { namespace: `${NAMESPACE}.a1b2c`, resourceVersion: 'v9' }],
      ['getAsyncOperation', { asyncOperationId: 'op-6' }],
      ['getNamespace', { namespace: `${NAMESPACE}.a1b2c` }],
    ]);
  });

  it('passes on an error Cloud answers other than not-found', async () => {
    const { cloudService } = recordingCloud({ getNamespace: [grpcError(7)] });
    await expect(provider(cloudService).remove(NAMESPACE)).rejects.toThrow('grpc 7');
  });
});
