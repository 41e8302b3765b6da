import { KMS } from '@aws-sdk/client-kms';
import { S3Client } from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import type { AwsCredentialIdentityProvider, FinalizeRequestMiddleware } from '@smithy/types';
import { HttpsProxyAgent } from 'https-proxy-agent';
import { countRequest } from './egress.js';

/** Counts each S3 and KMS request, retries included, in the running activity's egress tally. */
function countingMiddleware<Input extends object, Output extends object>(): FinalizeRequestMiddleware<
  Input,
  Output
> {
  return (next) => async (args) => {
    const request = args.request as { hostname?: string; port?: number };
    countRequest(request.port ? `${request.hostname}:${request.port}` : `${request.hostname}`);
    return next(args);
  };
}

export interface EnvironmentAws {
  s3: S3Client;
  kms: KMS;
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
  const kms = new KMS(common);
  const tally = { step: 'finalizeRequest', name: 'tavioEgressTally' } as const;
  s3.middlewareStack.add(countingMiddleware(), tally);
  kms.middlewareStack.add(countingMiddleware(), tally);
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
