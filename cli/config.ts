import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { UsageError } from './errors.js';

/**
 * The command-line tool's configuration, parsed once from its environment and global options.
 * The API key comes from the environment or a file, never from the command line.
 */

type Env = Record<string, string | undefined>;

/** The local stack's control API (`npm start`). */
export const DEFAULT_API_URL = 'http://127.0.0.1:8080';

const httpUrl = z.url({ protocol: /^https?$/, error: 'an http or https URL' });

const cliEnvSchema = z.object({
  TAVIO_API_URL: httpUrl.optional(),
  TAVIO_API_KEY: z.string().trim().min(1).optional(),
  TAVIO_ORG: z.string().min(1).optional(),
  TAVIO_ENV: z.string().min(1).optional(),
});

/** The global options, as commander parsed them. */
export interface GlobalFlags {
  apiUrl?: string;
  apiKeyFile?: string;
  org?: string;
  env?: string;
  json?: boolean;
}

export interface CliConfig {
  apiUrl: string;
  /** Absent until a command needs it; then its absence is a usage error. */
  apiKey: string | undefined;
  org: string | undefined;
  env: string | undefined;
  json: boolean;
}

function readKeyFile(path: string): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'unreadable';
    throw new UsageError(`--api-key-file ${path}: cannot be read (${code})`);
  }
  const key = text.trim();
  if (!key) throw new UsageError(`--api-key-file ${path}: the file is empty`);
  if (/\s/.test(key)) throw new UsageError(`--api-key-file ${path}: the file holds more than one key`);
  return key;
}

/** The configuration of one invocation: flags over `TAVIO_*` variables over defaults. */
export function loadCliConfig(env: Env, flags: GlobalFlags): CliConfig {
  // An empty variable counts as unset, as shells make it easy to export one.
  const given = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== ''));
  const parsed = cliEnvSchema.safeParse(given);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new UsageError(`${issue.path.join('.')}: ${issue.message}`);
  }
  const apiUrl = flags.apiUrl ?? parsed.data.TAVIO_API_URL ?? DEFAULT_API_URL;
  if (flags.apiUrl !== undefined && !httpUrl.safeParse(flags.apiUrl).success)
    throw new UsageError(`--api-url: an http or https URL, not ${flags.apiUrl}`);
  return {
    apiUrl,
    apiKey: flags.apiKeyFile !== undefined ? readKeyFile(flags.apiKeyFile) : parsed.data.TAVIO_API_KEY,
    org: flags.org ?? parsed.data.TAVIO_ORG,
    env: flags.env ?? parsed.data.TAVIO_ENV,
    json: flags.json ?? false,
  };
}
