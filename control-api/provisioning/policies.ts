/** IAM documents of an environment's data-plane role: they name that environment's bucket and key, nothing else. */

export function dataplaneTrustPolicy(hostPrincipalArn: string) {
  return {
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Principal: { AWS: hostPrincipalArn }, Action: 'sts:AssumeRole' }],
  };
}

export function dataplanePermissions(bucket: string, keyArn: string) {
  return {
    Version: '2012-10-17',
    Statement: [
      { Sid: 'OwnBucket', Effect: 'Allow', Action: ['s3:ListBucket'], Resource: [`arn:aws:s3:::${bucket}`] },
      {
        Sid: 'OwnObjects',
        Effect: 'Allow',
        Action: ['s3:GetObject', 's3:PutObject', 's3:DeleteObject'],
        Resource: [`arn:aws:s3:::${bucket}/*`],
      },
      {
        Sid: 'OwnKey',
        Effect: 'Allow',
        Action: ['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey', 'kms:DescribeKey'],
        Resource: [keyArn],
      },
    ],
  };
}
