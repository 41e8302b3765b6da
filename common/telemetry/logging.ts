import type { LoggerOptions } from 'pino';

/**
 * Fields that may hold a credential wherever they appear in a log record: request headers that
 * carry keys or sessions, and the names credentials go by in Tavio and the SDKs it uses (an
 * activity's task token completes the activity, so it is one too).
 */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers["proxy-authorization"]',
  'req.headers.cookie',
  'req.headers["x-api-key"]',
  'res.headers["set-cookie"]',
  'headers.authorization',
  'headers.cookie',
  '*.authorization',
  'authorization',
  'password',
  '*.password',
  'secret',
  '*.secret',
  'secretAccessKey',
  '*.secretAccessKey',
  'sessionToken',
  '*.sessionToken',
  'token',
  '*.token',
  'apiKey',
  '*.apiKey',
  'privateKey',
  '*.privateKey',
  'taskToken',
  '*.taskToken',
];

/** The pino options of every Tavio process: its level, and credentials redacted. */
export function loggerOptions(level: string, base?: Record<string, string>): LoggerOptions {
  return {
    level,
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    ...(base ? { base } : {}),
  };
}
