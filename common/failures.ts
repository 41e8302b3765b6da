/** Named, non-retryable failure types. A failure of one of these types can never succeed on retry. */
export const FailureType = {
  PayloadTooLarge: 'PayloadTooLarge',
  SourceAuthRejected: 'SourceAuthRejected',
  SourceRequestRejected: 'SourceRequestRejected',
  DestinationAuthRejected: 'DestinationAuthRejected',
  DestinationRequestRejected: 'DestinationRequestRejected',
  CredentialsUnavailable: 'CredentialsUnavailable',
  WrongEnvironment: 'WrongEnvironment',
  EgressRefused: 'EgressRefused',
  SealedContextMismatch: 'SealedContextMismatch',
  InvalidObjectName: 'InvalidObjectName',
} as const;
export type FailureType = (typeof FailureType)[keyof typeof FailureType];

/** Retryable failure types: transient, left to the retry policy. */
export const RetryableType = {
  RateLimited: 'RateLimited',
  UpstreamUnavailable: 'UpstreamUnavailable',
  GatewayUnavailable: 'GatewayUnavailable',
} as const;
