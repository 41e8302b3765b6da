import { KMSClient } from '@aws-sdk/client-kms';
import { S3Client } from '@aws-sdk/client-s3';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { inject } from 'vitest';
import type { DATAPLANE_ROLE, PROVISIONER_ROLE } from '../../common/names.js';
import { roleArn } from '../../common/names.js';
import type { Environment } from '../../control-api/client.js';

/** S3 and KMS clients acting as one of an environment's roles, straight at the S3/KMS service. */
export async function clientsAs(
  environment: Environment,
  role: typeof DATAPLANE_ROLE | typeof PROVISIONER_ROLE,
) {
  const endpoint = inject('stack').awsEndpoint;
  const sts = new STSClient({
    region: environment.awsRegion,
    endpoint,
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  });
  const answer = await sts.send(
    new AssumeRoleCommand({
      RoleArn: roleArn(environment.awsAccountId, role),
      RoleSessionName: 'isolation-test',
    }),
  );
  sts.destroy();
  const c = answer.Credentials!;
  const credentials = {
    accessKeyId: c.AccessKeyId!,
    secretAccessKey: c.SecretAccessKey!,
    sessionToken: c.SessionToken!,
  };
  const common = { region: environment.awsRegion, endpoint, credentials };
  return { s3: new S3Client({ ...common, forcePathStyle: true }), kms: new KMSClient(common) };
}

/** The HTTP status of a refused AWS call (KMS refusals under enforcement do not parse as errors). */
export async function refusal(call: Promise<unknown>): Promise<{ status: number | undefined; name: string }> {
  try {
    await call;
  } catch (error) {
    const e = error as { name: string; $metadata?: { httpStatusCode?: number } };
    return { status: e.$metadata?.httpStatusCode, name: e.name };
  }
  throw new Error('the call was expected to be refused, and it succeeded');
}
