import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';

import type { DataplaneCredentials } from '../common/worker-secrets.js';

/** Issues short-lived credentials of one environment's data-plane role: what its worker holds, and nothing else. */
export function createDataplaneCredentialIssuer(options: {
  awsRegion: string;
  endpoint?: string;
  credentials?: { accessKeyId: string; secretAccessKey: string };
  hostId: string;
}) {
  const sts = new STSClient({
    region: options.awsRegion,
    endpoint: options.endpoint,
    credentials: options.credentials,
  });
  return {
    async issue(roleArn: string, durationSeconds = 3600): Promise<DataplaneCredentials> {
      const answer = await sts.send(
        new AssumeRoleCommand({
          RoleArn: roleArn,
          RoleSessionName: options.hostId.slice(0, 64),
          DurationSeconds: durationSeconds,
        }),
      );
      const c = answer.Credentials;
      if (!c?.AccessKeyId || !c.SecretAccessKey || !c.SessionToken || !c.Expiration) {
        throw new Error(`STS returned no credentials for ${roleArn}`);
      }
      return {
        accessKeyId: c.AccessKeyId,
        secretAccessKey: c.SecretAccessKey,
        sessionToken: c.SessionToken,
        expiration: c.Expiration.toISOString(),
      };
    },
    destroy: () => sts.destroy(),
  };
}
