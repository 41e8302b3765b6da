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
  /** A source or destination answer larger than the response limit: the same request would be as large again. */
  ResponseTooLarge: 'ResponseTooLarge',
  /** An upstream string bound for a history (a cursor) that is too long or outside printable ASCII. */
  UpstreamValueRefused: 'UpstreamValueRefused',
  /** A Temporal payload sealed under a data key this process does not hold (another environment's, or destroyed). */
  PayloadKeyUnknown: 'PayloadKeyUnknown',
  /** A Temporal payload whose ciphertext does not authenticate: altered, or moved from another namespace. */
  PayloadTampered: 'PayloadTampered',
  /** An SFTP server that showed another host key than the connection's pinned fingerprint. */
  SftpHostKeyRejected: 'SftpHostKeyRejected',
  /** An SFTP server that refused the connection's user name, password or key. */
  SftpAuthRejected: 'SftpAuthRejected',
  /** A destination that already holds a file of the name a delivery would take: never overwritten. */
  DestinationFileExists: 'DestinationFileExists',
  /** An SFTP path (a connection's folder, a file) that is not there. */
  SftpPathMissing: 'SftpPathMissing',
  /** An SFTP server that refused to list, read or write a path. */
  SftpPermissionDenied: 'SftpPermissionDenied',
  /** A source file that changed or went away between the listing and its transfer. */
  SourceFileChanged: 'SourceFileChanged',
  /** A file whose size or SHA-256 is not what was read from its source. */
  FileVerificationFailed: 'FileVerificationFailed',
  /** A file that the source connection's PGP key cannot decrypt: for another key, not PGP, corrupt or truncated. */
  PgpDecryptFailed: 'PgpDecryptFailed',
  /** A file that could not be encrypted for the destination connection's PGP key. */
  PgpEncryptFailed: 'PgpEncryptFailed',
  /** A census file whose header row does not have exactly the mapping's columns. */
  CsvHeaderMismatch: 'CsvHeaderMismatch',
  /** A census file that cannot be read as CSV past some line (an unclosed or stray quote, a row too long). */
  CsvUnreadable: 'CsvUnreadable',
  /** A source that refuses an incremental run's high-water mark (`updated_since`): too old, or not one of its own. */
  SourceMarkRefused: 'SourceMarkRefused',
  /** A declared field mapping in a run's input that does not validate (one is checked when saved). */
  InvalidMapping: 'InvalidMapping',
  /**
   * A full listing that read no employee at all: reconciling it would deactivate every employee at
   * the destination, so the run refuses (a transient empty answer, a key of the wrong scope).
   */
  EmptyListingRefused: 'EmptyListingRefused',
} as const;
export type FailureType = (typeof FailureType)[keyof typeof FailureType];

/** Retryable failure types: transient, left to the retry policy. */
export const RetryableType = {
  RateLimited: 'RateLimited',
  UpstreamUnavailable: 'UpstreamUnavailable',
  GatewayUnavailable: 'GatewayUnavailable',
  /** A request abandoned because its attempt's start-to-close time ran out; the next attempt starts afresh. */
  RequestTimedOut: 'RequestTimedOut',
} as const;
