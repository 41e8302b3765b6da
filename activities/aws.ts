import { KMSClient } from '@aws-sdk/client-kms';
import { S3Client } from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import type { AwsCredentialIdentityProvider } from '@smithy/types';
import { HttpsProxyAgent } from 'https-proxy-agent';

export interface EnvironmentAws {
  s3: S3Client;
  kms: KMSClient;
  destroy(): void;
}

/** S3 and KMS clients in the environment's own region, with its own credentials, through its gateway. */
export function createEnvironmentAws(options: {
  awsRegion: string;
  endpoint?: string;
  gatewayUrl: string;
  credentials: AwsCredentialIdentityProvider;
}): EnvironmentAws {
  const agent = new HttpsProxyAgent(options.gatewayUrl);
  const common = {
    region: options.awsRegion,
    endpoint: options.endpoint,
    credentials: options.credentials,
    requestHandler: new NodeHttpHandler({ httpAgent: agent, httpsAgent: agent }),
  };
  const s3 = new S3Client({ ...common, forcePathStyle: options.endpoint !== undefined });
  const kms = new KMSClient(common);
  return {
    s3,
    kms,
    destroy() {
      s3.destroy();
      kms.destroy();
      agent.destroy();
    },
  };
}
