import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { GATEWAY_OF } from '../../common/gateways.js';
import type { DATAPLANE_ROLE } from '../../common/names.js';
import { dataplaneRoleArn, PROVISIONER_ROLE, roleArn } from '../../common/names.js';
import type { RegionCode } from '../../common/regions.js';
import type { AwsIdentities } from './aws-identities.js';

/**
 * Credentials of one of an environment's roles on the local S3/KMS service, assumed by the one
 * identity allowed to: the control plane for the provisioner, the region's host for the data
 * plane. For tests and benchmarks that act as a role straight at the service.
 */
export async function assumeEnvironmentRole(
  environment: { awsAccountId: string; awsRegion: string; region: RegionCode },
  role: typeof DATAPLANE_ROLE | typeof PROVISIONER_ROLE,
  stack: { awsEndpoint: string; awsIdentities: AwsIdentities },
  sessionName: string,
) {
  const sts = new STSClient({
    region: environment.awsRegion,
    endpoint: stack.awsEndpoint,
    credentials:
      role === PROVISIONER_ROLE
        ? stack.awsIdentities.controlPlane
        : stack.awsIdentities.hosts[GATEWAY_OF[environment.region]],
  });
  try {
    const { Credentials: c } = await sts.send(
      new AssumeRoleCommand({
        RoleArn:
          role === PROVISIONER_ROLE
            ? roleArn(environment.awsAccountId, role)
            : dataplaneRoleArn(environment.awsAccountId, GATEWAY_OF[environment.region]),
        RoleSessionName: sessionName,
      }),
    );
    return {
      accessKeyId: c!.AccessKeyId!,
      secretAccessKey: c!.SecretAccessKey!,
      sessionToken: c!.SessionToken!,
    };
  } finally {
    sts.destroy();
  }
}
