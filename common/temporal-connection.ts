import { existsSync } from 'node:fs';
import { loadClientConfigProfile, loadConfigData } from '@temporalio/envconfig';
import type { ClientConfigProfile, ConfigDataSource } from '@temporalio/envconfig';
import { z } from 'zod';

/**
 * How every Tavio process reaches Temporal, read with the SDK's standard environment configuration
 * (`@temporalio/envconfig`): `TEMPORAL_ADDRESS`, `TEMPORAL_TLS*`, `TEMPORAL_TLS_CLIENT_CERT_PATH`/`_KEY_PATH`
 * (or `_DATA`), `TEMPORAL_TLS_SERVER_CA_CERT_PATH`, `TEMPORAL_TLS_SERVER_NAME`, `TEMPORAL_API_KEY`, and a
 * TOML profile (`TEMPORAL_PROFILE`, `TEMPORAL_CONFIG_FILE`), read only when one of the two is set.
 * Tavio gives each environment its own namespace, so the profile's namespace (`TEMPORAL_NAMESPACE`)
 * is not used.
 *
 * `TAVIO_TEMPORAL_AUTH` says who authorizes calls:
 * - `tavio-tokens` (default): every call carries a short-lived token for one namespace, signed by
 *   the control API (the self-hosted server with Tavio's JWKS authorizer). A static API key would
 *   replace those tokens, so one is refused; TLS and a client certificate (mTLS) may secure the
 *   transport.
 * - `static`: calls carry the profile's API key and/or client certificate and no Tavio token (for
 *   example Temporal Cloud); one of the two is required. The control API only: a region host
 *   refuses it, since every worker would hold the same deployment-wide credential.
 */

type Env = Record<string, string | undefined>;

export const TEMPORAL_AUTH_MODES = ['tavio-tokens', 'static'] as const;
export type TemporalAuthMode = (typeof TEMPORAL_AUTH_MODES)[number];
export const DEFAULT_TEMPORAL_ADDRESS = '127.0.0.1:7233';

/** A Temporal connection setting that cannot work: names the variable, never a key or certificate. */
export class TemporalConnectionConfigError extends Error {
  override readonly name = 'TemporalConnectionConfigError';
}

/** A gRPC address: host and port, as Temporal's frontend and Cloud's Ops API are given. */
export const HOST_PORT = /^[^:]+:\d+$/;

/** TLS towards Temporal: PEM contents, never paths, so a process that cannot read the files still connects. */
export const temporalTlsSchema = z
  .object({
    serverName: z.string().min(1).optional(),
    serverCaPem: z.string().min(1).optional(),
    clientCertPem: z.string().min(1).optional(),
  })
  .strict();

/** Where and how to connect, without secrets: what an environment worker's settings carry. */
export const temporalEndpointSchema = z
  .object({
    address: z.string().regex(HOST_PORT, 'host:port'),
    auth: z.enum(TEMPORAL_AUTH_MODES),
    /** Absent: plain text, as the local server. */
    tls: temporalTlsSchema.optional(),
  })
  .strict();
export type TemporalEndpoint = z.infer<typeof temporalEndpointSchema>;

/** The secret part: the client certificate's private key and the static API key (sent over IPC only). */
export const temporalClientSecretsSchema = z
  .object({ clientKeyPem: z.string().min(1).optional(), apiKey: z.string().min(1).optional() })
  .strict();
export type TemporalClientSecrets = z.infer<typeof temporalClientSecretsSchema>;

export type TemporalConnectionSettings = TemporalEndpoint & TemporalClientSecrets;

/** The options `Connection.connect` (client) and `NativeConnection.connect` (worker) both take. */
export interface TemporalConnectOptions {
  address: string;
  tls?: {
    serverNameOverride?: string;
    serverRootCACertificate?: Uint8Array;
    clientCertPair?: { crt: Uint8Array; key: Uint8Array };
  };
  apiKey?: string;
}

const definedOnly = (env: Env): Record<string, string> =>
  Object.fromEntries(
    Object.entries(env).filter((entry): entry is [string, string] => entry[1] !== undefined),
  );

/**
 * The profile: from a TOML file only when `TEMPORAL_CONFIG_FILE` or `TEMPORAL_PROFILE` asks for one
 * (a developer's own `~/.config/temporalio/temporal.toml` never changes the platform's connection),
 * with the environment's variables over it.
 */
function profileOf(env: Env): ClientConfigProfile {
  // The SDK reads a missing file as an empty one; a file named on purpose must exist.
  if (env.TEMPORAL_CONFIG_FILE && !existsSync(env.TEMPORAL_CONFIG_FILE))
    throw new TemporalConnectionConfigError('TEMPORAL_CONFIG_FILE names a file that does not exist');
  const fileAsked = Boolean(env.TEMPORAL_CONFIG_FILE || env.TEMPORAL_PROFILE);
  try {
    return loadClientConfigProfile({ overrideEnvVars: definedOnly(env), disableFile: !fileAsked });
  } catch (error) {
    throw new TemporalConnectionConfigError(configFileProblem(env, error));
  }
}

/**
 * Why the configuration file could not be read, never with its content: a TOML parser's message
 * quotes the lines around the error, where an `api_key` may stand.
 */
function configFileProblem(env: Env, error: unknown): string {
  const file = env.TEMPORAL_CONFIG_FILE
    ? `the Temporal configuration file ${env.TEMPORAL_CONFIG_FILE}`
    : "the Temporal CLI's default configuration file";
  const { line, code } = (error ?? {}) as { line?: unknown; code?: unknown };
  if (typeof line === 'number') return `${file} is not valid TOML (line ${line})`;
  if (typeof code === 'string') return `${file} could not be read (${code})`;
  const message = error instanceof Error ? error.message : '';
  const profile = /^Profile '([^']*)' not found/.exec(message);
  if (profile) return `${file} has no profile ${JSON.stringify(profile[1])} (TEMPORAL_PROFILE)`;
  const both = /^Cannot specify both (\w+) and (\w+)$/.exec(message);
  if (both) return `${file}: ${both[1]} and ${both[2]} are both set; keep one`;
  return `${file} could not be read (TEMPORAL_CONFIG_FILE, TEMPORAL_PROFILE)`;
}

function pemOf(source: ConfigDataSource | undefined, what: string): string | undefined {
  if (!source) return undefined;
  try {
    return Buffer.from(loadConfigData(source)!).toString('utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'unreadable';
    throw new TemporalConnectionConfigError(`the Temporal ${what} file could not be read (${code})`);
  }
}

function authModeOf(env: Env): TemporalAuthMode {
  const mode = env.TAVIO_TEMPORAL_AUTH || 'tavio-tokens';
  if (!(TEMPORAL_AUTH_MODES as readonly string[]).includes(mode))
    throw new TemporalConnectionConfigError(
      `TAVIO_TEMPORAL_AUTH must be ${TEMPORAL_AUTH_MODES.join(' or ')}, not ${JSON.stringify(mode)}`,
    );
  return mode as TemporalAuthMode;
}

/**
 * Reads the Temporal connection settings once, at process start: the profile with the environment's
 * overrides, TLS material read into PEM, and the authorization mode checked against them.
 */
export function loadTemporalConnection(env: Env = process.env): TemporalConnectionSettings {
  const auth = authModeOf(env);
  const profile = profileOf(env);
  const apiKey = profile.apiKey || undefined;
  const tlsSource = profile.tls;
  const clientCertPem = pemOf(tlsSource?.clientCert, 'client certificate');
  const clientKeyPem = pemOf(tlsSource?.clientKey, 'client key');
  if (Boolean(clientCertPem) !== Boolean(clientKeyPem))
    throw new TemporalConnectionConfigError(
      'a Temporal client certificate needs its key and a key its certificate (TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH)',
    );
  // As the SDK: TLS is on when the profile configures it, or when an API key is given.
  const tlsOn = tlsSource ? tlsSource.disabled !== true : apiKey !== undefined;
  if (!tlsOn && clientCertPem)
    throw new TemporalConnectionConfigError('a Temporal client certificate is set but TEMPORAL_TLS is false');
  if (auth === 'tavio-tokens' && apiKey)
    throw new TemporalConnectionConfigError(
      'TEMPORAL_API_KEY (or the profile api_key) is set while TAVIO_TEMPORAL_AUTH=tavio-tokens: Tavio signs a token for each call, which a static key would replace; unset the key, or set TAVIO_TEMPORAL_AUTH=static',
    );
  if (auth === 'static' && !apiKey && !clientCertPem)
    throw new TemporalConnectionConfigError(
      'TAVIO_TEMPORAL_AUTH=static needs TEMPORAL_API_KEY or a client certificate (TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH)',
    );
  const address = profile.address || DEFAULT_TEMPORAL_ADDRESS;
  if (!/^[^:]+:\d+$/.test(address))
    throw new TemporalConnectionConfigError(
      `TEMPORAL_ADDRESS must be host:port, not ${JSON.stringify(address)}`,
    );
  const tls = tlsOn
    ? {
        ...(tlsSource?.serverName && { serverName: tlsSource.serverName }),
        ...optional('serverCaPem', pemOf(tlsSource?.serverCACert, 'server CA certificate')),
        ...optional('clientCertPem', clientCertPem),
      }
    : undefined;
  return {
    address,
    auth,
    ...(tls && { tls }),
    ...optional('clientKeyPem', clientKeyPem),
    ...(auth === 'static' && optional('apiKey', apiKey)),
  };
}

const optional = <K extends string>(key: K, value: string | undefined) =>
  (value === undefined ? {} : { [key]: value }) as Partial<Record<K, string>>;

/** The public part, for settings that travel in a process's environment. */
export function temporalEndpointOf(settings: TemporalConnectionSettings): TemporalEndpoint {
  return { address: settings.address, auth: settings.auth, ...(settings.tls && { tls: settings.tls }) };
}

/** The secret part, for an IPC message; undefined when there is none. */
export function temporalClientSecretsOf(
  settings: TemporalConnectionSettings,
): TemporalClientSecrets | undefined {
  const secrets = {
    ...optional('clientKeyPem', settings.clientKeyPem),
    ...optional('apiKey', settings.apiKey),
  };
  return Object.keys(secrets).length > 0 ? secrets : undefined;
}

const bytes = (pem: string | undefined) => (pem === undefined ? undefined : Buffer.from(pem, 'utf8'));

/**
 * Connection options for `Connection.connect` and `NativeConnection.connect`. Under `tavio-tokens`
 * they carry no credential: the caller adds the token of each call.
 */
export function temporalConnectOptions(settings: TemporalConnectionSettings): TemporalConnectOptions {
  const { tls } = settings;
  return {
    address: settings.address,
    ...(tls && {
      tls: {
        ...(tls.serverName && { serverNameOverride: tls.serverName }),
        ...(tls.serverCaPem && { serverRootCACertificate: bytes(tls.serverCaPem) }),
        ...(tls.clientCertPem &&
          settings.clientKeyPem && {
            clientCertPair: { crt: bytes(tls.clientCertPem)!, key: bytes(settings.clientKeyPem)! },
          }),
      },
    }),
    ...(settings.auth === 'static' && settings.apiKey && { apiKey: settings.apiKey }),
  };
}

/** The settings of the server at `address` (a stack's), with the rest from the standard configuration. */
export function temporalConnectionAt(address: string, env: Env = process.env): TemporalConnectionSettings {
  return loadTemporalConnection({ ...env, TEMPORAL_ADDRESS: address });
}

/** Connection options whose calls carry `token` where Tavio's tokens authorize them (`tavio-tokens`). */
export function temporalConnectOptionsWithToken(
  settings: TemporalConnectionSettings,
  token: string | undefined,
): TemporalConnectOptions & { metadata?: Record<string, string> } {
  const options = temporalConnectOptions(settings);
  return token && settings.auth === 'tavio-tokens'
    ? { ...options, metadata: { authorization: `Bearer ${token}` } }
    : options;
}
