import { readFileSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { holdsKey } from '../control-api/keys.js';
import { UsageError } from './errors.js';

/**
 * Secrets never come from the command line: process lists and shell histories keep it. Connection
 * credentials are read from stdin or a file, the API key from the environment or a file.
 */

/** Option and `name=value` names that carry a secret. */
const SECRET_NAME = /(password|passwd|passphrase|secret|token|private-?key|api-?key|credential)/i;
/** Options whose names look like a secret's but take a path to one. */
const PATH_OPTIONS = new Set(['--api-key-file', '--credentials-file']);

const WHERE =
  'give credentials on stdin or with --credentials-file, and the API key in TAVIO_API_KEY or with --api-key-file';

/**
 * Refuses a command line that carries a secret: an option named like one (`--password`,
 * `--api-key`, `--token=...`), a `name=value` argument named like one, or a Tavio API key. The
 * error names the option or the argument's position, never its value.
 */
export function refuseSecretsOnArgv(args: readonly string[]): void {
  args.forEach((given, index) => {
    let arg = given;
    if (holdsKey(arg))
      throw new UsageError(
        `argument ${index + 1} is an API key: secrets are never taken from the command line; ${WHERE}`,
      );
    if (arg.startsWith('-')) {
      const name = arg.split('=', 1)[0]!;
      if (!PATH_OPTIONS.has(name) && SECRET_NAME.test(name))
        throw new UsageError(`${name}: secrets are never taken from the command line; ${WHERE}`);
      // `--option=name=value` carries an assignment too.
      arg = arg.slice(name.length + 1);
    }
    const assigned = /^([A-Za-z_][\w-]*)=/.exec(arg)?.[1];
    if (assigned && SECRET_NAME.test(assigned))
      throw new UsageError(
        `argument ${index + 1} (${assigned}=...): secrets are never taken from the command line; ${WHERE}`,
      );
  });
}

async function readAll(stream: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  return Buffer.concat(chunks).toString('utf8');
}

/** Parses credentials: a JSON object of strings. Errors name the field, never a value. */
export function parseCredentials(text: string, from: string): Record<string, string> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new UsageError(`credentials from ${from}: not JSON; expected an object such as {"apiKey": "..."}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw new UsageError(`credentials from ${from}: expected a JSON object of strings`);
  const entries = Object.entries(parsed);
  if (entries.length === 0) throw new UsageError(`credentials from ${from}: the object is empty`);
  for (const [field, value] of entries)
    if (typeof value !== 'string')
      throw new UsageError(`credentials from ${from}: field ${field} is not a string`);
  return Object.fromEntries(entries) as Record<string, string>;
}

/**
 * A connection's credentials from `--credentials-file <path>` (`-` for stdin), or from stdin when
 * it is not a terminal (typing a secret into a terminal echoes it).
 */
export async function readCredentials(
  file: string | undefined,
  stdin: Readable & { isTTY?: boolean },
): Promise<Record<string, string>> {
  if (file !== undefined && file !== '-') {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? 'unreadable';
      throw new UsageError(`--credentials-file ${file}: cannot be read (${code})`);
    }
    return parseCredentials(text, file);
  }
  if (stdin.isTTY)
    throw new UsageError(
      'no credentials: pipe a JSON object on stdin (tavio ... < creds.json) or give --credentials-file <path>',
    );
  return parseCredentials(await readAll(stdin), 'stdin');
}
