import { Readable } from 'node:stream';
import type { DeserializeMiddleware } from '@smithy/types';
import { IAMClient } from '@aws-sdk/client-iam';
import { KMS } from '@aws-sdk/client-kms';
import { S3Client } from '@aws-sdk/client-s3';
import { inject } from 'vitest';
import type { DATAPLANE_ROLE } from '../../common/names.js';
import type { PROVISIONER_ROLE } from '../../common/names.js';
import { assumeEnvironmentRole } from '../../scripts/stack/environment-roles.js';
import type { Environment } from '../../control-api/client.js';

/** S3, KMS and IAM clients acting as one of an environment's roles, straight at the S3/KMS service. */
export async function clientsAs(
  environment: Environment,
  role: typeof DATAPLANE_ROLE | typeof PROVISIONER_ROLE,
) {
  const stack = inject('stack');
  const endpoint = stack.awsEndpoint;
  const credentials = await assumeEnvironmentRole(environment, role, stack, 'isolation-test');
  const common = { region: environment.awsRegion, endpoint, credentials };
  const kms = new KMS(common);
  kms.middlewareStack.add(keepErrorBody(), { step: 'deserialize', priority: 'low', name: 'keepErrorBody' });
  return { s3: new S3Client({ ...common, forcePathStyle: true }), kms, iam: new IAMClient(common) };
}

/**
 * Under IAM enforcement the local KMS refuses with an XML body that the SDK fails to parse as JSON.
 * This keeps that body readable on the response, so a refusal's code can be read from it.
 */
function keepErrorBody<Input extends object, Output extends object>(): DeserializeMiddleware<Input, Output> {
  return (next) => async (args) => {
    const output = await next(args);
    const response = output.response as { statusCode?: number; body?: Readable; bodyText?: string };
    if ((response.statusCode ?? 200) >= 400 && response.body) {
      const chunks: Buffer[] = [];
      for await (const chunk of response.body) chunks.push(Buffer.from(chunk as Uint8Array));
      response.bodyText = Buffer.concat(chunks).toString('utf8');
      response.body = Readable.from([Buffer.from(response.bodyText)]);
    }
    return output;
  };
}

/**
 * A refused AWS call's HTTP status and error code. Under IAM enforcement the local KMS answers a
 * refusal with an XML body that the SDK fails to parse; the code is then read from that body.
 */
export function refusalOf(error: unknown): { status: number | undefined; name: string } {
  const e = error as {
    name: string;
    $metadata?: { httpStatusCode?: number };
    $response?: { bodyText?: string };
  };
  const body = e.name === 'SyntaxError' ? e.$response?.bodyText : undefined;
  const xmlCode = body ? /<Code>([^<]+)<\/Code>/.exec(body)?.[1] : undefined;
  return { status: e.$metadata?.httpStatusCode, name: xmlCode ?? e.name };
}

export async function refusal(call: Promise<unknown>): Promise<{ status: number | undefined; name: string }> {
  try {
    await call;
  } catch (error) {
    return refusalOf(error);
  }
  throw new Error('the call was expected to be refused, and it succeeded');
}
