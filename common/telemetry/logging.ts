import type { LoggerOptions } from 'pino';

/** Names that credentials go by in Tavio and the SDKs it uses (an activity's task token completes the activity, so it is one too). */
const CREDENTIAL_FIELDS = [
  'authorization',
  'password',
  'passphrase',
  'secret',
  'secretAccessKey',
  'sessionToken',
  'token',
  'apiKey',
  'privateKey',
  'clientKeyPem',
  'credentials',
  'taskToken',
];

/**
 * What pino redacts in every log record: request headers that carry keys or sessions, and each
 * credential field at the top of a record or one level down (pino's paths reach no deeper: code
 * that logs an object logs it flat, never a nested request or configuration).
 */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers["proxy-authorization"]',
  'req.headers.cookie',
  'req.headers["x-api-key"]',
  'res.headers["set-cookie"]',
  'headers.cookie',
  ...CREDENTIAL_FIELDS.flatMap((field) => [field, `*.${field}`]),
];

/** The pino options of every Tavio process: its level, and credentials redacted. */
export function loggerOptions(level: string, base?: Record<string, string>): LoggerOptions {
  return {
    level,
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    ...(base ? { base } : {}),
  };
}
