import type { Readable } from 'node:stream';
import type { Command } from 'commander';
import { createTavioClient } from '../control-api/client.js';
import type { TavioClient } from '../control-api/client.js';
import { loadCliConfig } from './config.js';
import type { CliConfig, GlobalFlags } from './config.js';
import { UsageError } from './errors.js';
import type { ExitCode } from './errors.js';
import type { Output } from './output.js';

/** What the tool is given by its process: environment, streams. */
export interface Io {
  env: Record<string, string | undefined>;
  stdin: Readable & { isTTY?: boolean };
  stdout: Output['stdout'];
  stderr: Output['stderr'];
}

/** One command's view of its invocation: configuration, client, output, and its exit code. */
export interface Context extends Output {
  config: CliConfig;
  io: Io;
  client(): TavioClient;
  /** The organization: `--org`, else `TAVIO_ORG`. */
  org(): string;
  /** The environment: `given` (a positional argument), else `--env`, else `TAVIO_ENV`. */
  env(given?: string): string;
  setExit(code: ExitCode): void;
}

/** Builds a command's context from the global options; `onExit` receives the exit code it sets. */
export function contextOf(command: Command, io: Io, onExit: (code: ExitCode) => void): Context {
  const config = loadCliConfig(io.env, command.optsWithGlobals<GlobalFlags>());
  let client: TavioClient | undefined;
  return {
    config,
    io,
    stdout: io.stdout,
    stderr: io.stderr,
    json: config.json,
    client() {
      if (!config.apiKey) throw new UsageError('no API key: set TAVIO_API_KEY or give --api-key-file <path>');
      client ??= createTavioClient({ baseUrl: config.apiUrl, apiKey: config.apiKey });
      return client;
    },
    org() {
      if (!config.org) throw new UsageError('no organization: give --org <slug> or set TAVIO_ORG');
      return config.org;
    },
    env(given) {
      const env = given ?? config.env;
      if (!env) throw new UsageError('no environment: give --env <slug> or set TAVIO_ENV');
      return env;
    },
    setExit: onExit,
  };
}
