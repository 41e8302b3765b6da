import type { NamespaceProviderConfig } from '../../../common/config.js';
import type { NamespaceProvider } from './provider.js';
import { selfHostedNamespaces } from './self-hosted.js';
import type { Administer } from './self-hosted.js';
import { connectTemporalCloudNamespaces } from './temporal-cloud.js';

/** The namespace provider `TAVIO_NAMESPACE_PROVIDER` names, and how to release it. */
export function namespaceProviderOf(
  config: NamespaceProviderConfig,
  administer: Administer,
): { provider: NamespaceProvider; close(): void } {
  switch (config.kind) {
    case 'self-hosted':
      return { provider: selfHostedNamespaces(administer), close: () => undefined };
    case 'cloud':
      return connectTemporalCloudNamespaces(config);
  }
}
