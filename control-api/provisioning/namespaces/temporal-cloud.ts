import { Client as GrpcClient, Metadata, credentials } from '@grpc/grpc-js';
import proto from '@temporalio/proto';
import type { NamespaceProviderConfig } from '../../../common/config.js';
import { DEFAULT_RETENTION } from '../../../common/retention.js';
import type { RegionCode } from '../../../common/regions.js';
import { SA } from '../../../common/search-attributes.js';
import { GRPC_ALREADY_EXISTS, GRPC_NOT_FOUND, NamespaceNotOwned, grpcCode } from './provider.js';
import type { NamespaceProvider } from './provider.js';

type CloudService = proto.temporal.api.cloud.cloudservice.v1.CloudService;
type AsyncOperation = proto.temporal.api.cloud.operation.v1.IAsyncOperation;
type NamespaceSpec = proto.temporal.api.cloud.namespace.v1.INamespaceSpec;
const { State } = proto.temporal.api.cloud.operation.v1.AsyncOperation;
const { SearchAttributeType } = proto.temporal.api.cloud.namespace.v1.NamespaceSpec;

/** The Cloud Ops API version of the protos this SDK bundles; Cloud reads request fields by it. */
export const CLOUD_API_VERSION = 'v0.16.0';
/** Cloud tag naming the environment a namespace was created for (tags allow no dot). */
export const CLOUD_OWNER_TAG = 'tavio-environment';
/** Cloud namespace names: 2 to 39 lowercase letters, digits and hyphens, from a letter to a letter or digit. */
const CLOUD_NAME = /^[a-z][a-z0-9-]{0,37}[a-z0-9]$/;

/** Tavio's name for a namespace does not fit Temporal Cloud's rules (a legacy `<org>-<env>` name can be too long). */
export class CloudNamespaceNameInvalid extends Error {
  override readonly name = 'CloudNamespaceNameInvalid';
}
/** A Cloud operation (create, update, delete) ended in failure, cancellation or rejection. */
export class CloudOperationFailed extends Error {
  override readonly name = 'CloudOperationFailed';
}
/** A Cloud operation was still running when Tavio stopped waiting; repeating the step waits again. */
export class CloudOperationTimedOut extends Error {
  override readonly name = 'CloudOperationTimedOut';
}

export interface TemporalCloudOptions {
  /** The generated Cloud Ops RPC interface (`CloudOperationsConnection.cloudService`). */
  cloudService: CloudService;
  /** The account id Cloud appends to namespace names. */
  account: string;
  /** The Cloud region of each Tavio region, e.g. aws-us-east-1. */
  regions: Record<RegionCode, string>;
  acceptedClientCaPem?: string | undefined;
  operationTimeoutMs?: number;
  sleep?: (ms: number) => Promise<void>;
}

const STATE_NAME: Partial<Record<number, string>> = {
  [State.STATE_FAILED]: 'failed',
  [State.STATE_CANCELLED]: 'was cancelled',
  [State.STATE_REJECTED]: 'was rejected',
};

/** Tavio's search attributes, all Keyword, as Cloud's namespace spec declares them. */
const searchAttributes = () =>
  Object.fromEntries(
    Object.values(SA).map((key) => [key.name, SearchAttributeType.SEARCH_ATTRIBUTE_TYPE_KEYWORD]),
  );

/** Temporal Cloud's name for a Tavio namespace, or a named error when Cloud would refuse it. */
export function cloudNameOf(namespace: string): string {
  if (!CLOUD_NAME.test(namespace))
    throw new CloudNamespaceNameInvalid(
      `namespace ${namespace} does not fit Temporal Cloud's names (2 to 39 lowercase letters, digits and hyphens, starting with a letter, ending with a letter or digit)`,
    );
  return namespace;
}

/**
 * Namespaces of Temporal Cloud, made through its Ops API. Each change is an asynchronous operation,
 * which is awaited; updates and deletion name the resource version they replace.
 */
export function temporalCloudNamespaces(options: TemporalCloudOptions): NamespaceProvider {
  const { cloudService: cloud } = options;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const timeoutMs = options.operationTimeoutMs ?? 10 * 60_000;
  const idOf = (namespace: string) => `${cloudNameOf(namespace)}.${options.account}`;

  async function settled(operation: AsyncOperation | null | undefined, what: string): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let current = operation;
    for (;;) {
      if (!current?.id) throw new CloudOperationFailed(`${what}: Temporal Cloud answered no operation`);
      if (current.state === State.STATE_FULFILLED) return;
      const ended = STATE_NAME[current.state ?? State.STATE_UNSPECIFIED];
      if (ended)
        throw new CloudOperationFailed(
          `${what} ${ended} in Temporal Cloud: ${current.failureReason || 'no reason given'}`,
        );
      if (Date.now() > deadline)
        throw new CloudOperationTimedOut(`${what} did not finish in Temporal Cloud within ${timeoutMs} ms`);
      const checkMs = Number(current.checkDuration?.seconds ?? 1) * 1000;
      await sleep(Math.min(Math.max(checkMs, 500), 10_000));
      current = (await cloud.getAsyncOperation({ asyncOperationId: current.id })).asyncOperation;
    }
  }

  async function current(namespace: string) {
    const found = (await cloud.getNamespace({ namespace: idOf(namespace) })).namespace;
    if (!found?.spec)
      throw new CloudOperationFailed(`namespace ${namespace}: Temporal Cloud answered no spec`);
    return {
      spec: found.spec,
      resourceVersion: found.resourceVersion ?? '',
      tags: found.tags ?? {},
      asyncOperationId: found.asyncOperationId || undefined,
    };
  }

  async function update(namespace: string, change: (spec: NamespaceSpec) => NamespaceSpec | undefined) {
    const { spec, resourceVersion } = await current(namespace);
    const next = change(spec);
    if (!next) return;
    const answer = await cloud.updateNamespace({ namespace: idOf(namespace), spec: next, resourceVersion });
    await settled(answer.asyncOperation, `updating namespace ${namespace}`);
  }

  return {
    async register({ namespace, environmentId, region }) {
      const spec: NamespaceSpec = {
        name: cloudNameOf(namespace),
        regions: [options.regions[region]],
        // The default policy's history retention; the policy in force is applied once it is made.
        retentionDays: DEFAULT_RETENTION.historyDays,
        apiKeyAuth: { enabled: true },
        ...(options.acceptedClientCaPem && {
          mtlsAuth: { enabled: true, acceptedClientCa: Buffer.from(options.acceptedClientCaPem, 'utf8') },
        }),
        searchAttributes: searchAttributes(),
      };
      let operation: AsyncOperation | null | undefined;
      try {
        operation = (await cloud.createNamespace({ spec, tags: { [CLOUD_OWNER_TAG]: environmentId } }))
          .asyncOperation;
      } catch (error) {
        if (grpcCode(error) !== GRPC_ALREADY_EXISTS) throw error;
        const existing = await current(namespace);
        if (existing.tags[CLOUD_OWNER_TAG] !== environmentId)
          throw new NamespaceNotOwned(
            `namespace ${namespace} already exists and was not registered for this environment; it is not adopted`,
          );
        // An earlier attempt created it: its creation may still be under way.
        const pending = existing.asyncOperationId;
        if (pending)
          await settled(
            (await cloud.getAsyncOperation({ asyncOperationId: pending })).asyncOperation,
            `creating namespace ${namespace}`,
          );
        return new Date();
      }
      await settled(operation, `creating namespace ${namespace}`);
      return new Date();
    },
    ensureSearchAttributes: (namespace) =>
      update(namespace, (spec) => {
        const declared = { ...spec.searchAttributes, ...spec.customSearchAttributes };
        const missing = Object.entries(searchAttributes()).filter(([name]) => !(name in declared));
        if (missing.length === 0) return undefined;
        return { ...spec, searchAttributes: { ...spec.searchAttributes, ...Object.fromEntries(missing) } };
      }),
    setHistoryRetention: (namespace, days) =>
      update(namespace, (spec) =>
        spec.retentionDays === days ? undefined : { ...spec, retentionDays: days },
      ),
    async remove(namespace) {
      let resourceVersion: string;
      try {
        ({ resourceVersion } = await current(namespace));
      } catch (error) {
        if (grpcCode(error) === GRPC_NOT_FOUND) return;
        throw error;
      }
      const answer = await cloud.deleteNamespace({ namespace: idOf(namespace), resourceVersion });
      await settled(answer.asyncOperation, `deleting namespace ${namespace}`);
    },
  };
}

/**
 * The generated Cloud Ops service over a TLS channel that sends the Ops API key and API version
 * with every call. It is built from the SDK's own protos: `@temporalio/cloud` 1.23 bundles protos
 * of its own, which cannot be loaded beside those of the 1.24 SDK in one process.
 */
function cloudServiceAt(address: string, apiKey: string, deadlineMs = 30_000) {
  const channel = new GrpcClient(address, credentials.createSsl());
  const rpc = (
    method: { name: string },
    request: Uint8Array,
    done: (error: Error | null, response?: Uint8Array) => void,
  ) => {
    const metadata = new Metadata();
    metadata.set('authorization', `Bearer ${apiKey}`);
    metadata.set('temporal-cloud-api-version', CLOUD_API_VERSION);
    channel.makeUnaryRequest(
      `/temporal.api.cloud.cloudservice.v1.CloudService/${method.name}`,
      (bytes: Uint8Array) => Buffer.from(bytes),
      (bytes: Buffer) => bytes,
      request,
      metadata,
      { deadline: Date.now() + deadlineMs },
      (error, response) => done(error, response),
    );
  };
  const cloudService = proto.temporal.api.cloud.cloudservice.v1.CloudService.create(rpc, false, false);
  return { cloudService, close: () => channel.close() };
}

/** The Cloud provider, on its own connection to the Ops API with its own API key. */
export function connectTemporalCloudNamespaces(config: Extract<NamespaceProviderConfig, { kind: 'cloud' }>) {
  const { cloudService, close } = cloudServiceAt(config.apiAddress, config.apiKey);
  const provider = temporalCloudNamespaces({
    cloudService,
    account: config.account,
    regions: config.regions,
    acceptedClientCaPem: config.acceptedClientCaPem,
  });
  return { provider, close };
}
