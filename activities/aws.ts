import { KMS } from '@aws-sdk/client-kms';
import { S3Client } from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import type {
  AwsCredentialIdentityProvider,
  DeserializeMiddleware,
  FinalizeRequestMiddleware,
} from '@smithy/types';
import { HttpProxyAgent } from 'http-proxy-agent';
import { HttpsProxyAgent } from 'https-proxy-agent';
import { RUN_HEADER, runTag } from '../common/gateway-identity.js';
import type { ProxyCredentials } from '../common/worker-secrets.js';
import { countRequest, currentRun } from './egress.js';
import { proxyAuthorization } from './http.js';

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

/**
 * Names the run on each request, after signing (the gateway strips the header before forwarding,
 * so it must not be part of the signature).
 */
function runHeaderMiddleware<Input extends object, Output extends object>(): DeserializeMiddleware<
  Input,
  Output
> {
  return (next) => async (args) => {
    const run = currentRun();
    const request = args.request as { headers?: Record<string, string> };
    if (run !== undefined && request.headers) request.headers[RUN_HEADER] = runTag(run);
    return next(args);
  };
}

export interface EnvironmentAws {
  s3: S3Client;
  kms: KMS;
  destroy(): void;
}

/** Sockets the S3 and KMS clients of one worker hold to the gateway at most. */
const AWS_SOCKETS = 16;

/**
 * S3 and KMS clients in the environment's own region, with its own credentials, through its
 * gateway, authenticated there as the environment. A plain-HTTP endpoint (the local S3/KMS service)
 * is reached with forward-proxy requests, so the gateway sees, logs and judges each path; HTTPS
 * endpoints through CONNECT tunnels, which name their run when opened.
 */
export function createEnvironmentAws(options: {
  awsRegion: string;
  endpoint?: string;
  gatewayUrl: string;
  credentials: AwsCredentialIdentityProvider;
  proxyCredentials: () => ProxyCredentials;
}): EnvironmentAws {
  const proxyHeaders = () => {
    const run = currentRun();
    return {
      'Proxy-Authorization': proxyAuthorization(options.proxyCredentials()),
      ...(run === undefined ? {} : { [RUN_HEADER]: runTag(run) }),
    };
  };
  // Bounded, as the activities' gateway agents are (activities/http.ts): requests beyond wait.
  const sockets = { keepAlive: true, maxSockets: AWS_SOCKETS, maxTotalSockets: AWS_SOCKETS };
  const httpAgent = new HttpProxyAgent(options.gatewayUrl, { headers: proxyHeaders, ...sockets });
  const httpsAgent = new HttpsProxyAgent(options.gatewayUrl, { headers: proxyHeaders, ...sockets });
  const common = {
    region: options.awsRegion,
    endpoint: options.endpoint,
    credentials: options.credentials,
    requestHandler: new NodeHttpHandler({ httpAgent, httpsAgent }),
  };
  const s3 = new S3Client({
    ...common,
    forcePathStyle: options.endpoint !== undefined,
    // No `Expect: 100-continue` before large bodies (a buffered file's parts): the request would
    // leave before the proxy agent gives it the absolute URL a forward proxy needs.
    expectContinueHeader: false,
  });
  const kms = new KMS(common);
  const tally = { step: 'finalizeRequest', name: 'tavioEgressTally' } as const;
  const runHeader = { step: 'deserialize', name: 'tavioRunHeader' } as const;
  s3.middlewareStack.add(countingMiddleware(), tally);
  s3.middlewareStack.add(runHeaderMiddleware(), runHeader);
  kms.middlewareStack.add(countingMiddleware(), tally);
  kms.middlewareStack.add(runHeaderMiddleware(), runHeader);
  return {
    s3,
    kms,
    destroy() {
      s3.destroy();
      kms.destroy();
      httpAgent.destroy();
      httpsAgent.destroy();
    },
  };
}
