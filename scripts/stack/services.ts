import { rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { relative } from 'node:path';
import {
  GATEWAY_CODES,
  StackError,
  displayPath,
  stackPaths,
  stackPorts,
  type GatewayCode,
  type Report,
  type StackPaths,
  type StackPorts,
} from './config.js';
import {
  ensureGateway,
  gatewayFiles,
  gatewayHealthy,
  gatewayName,
  gatewayUrl,
  stopGateway,
} from './gateways.js';
import type { Outcome } from './managed.js';
import { ensureMoto, motoHealthy, motoUrl, stopMoto } from './moto.js';
import { ensureAccountPool, accountPoolFile } from './account-pool.js';
import { ensureAwsIdentities } from './aws-identities.js';
import type { AwsIdentities } from './aws-identities.js';
import { ensureBrowser } from './browser.js';
import { ensureNftables } from './nftables.js';
import { ensureSchemathesis, schemathesisPath } from './schemathesis.js';
import { databaseDisplayUrl, databaseUrls, ensurePostgres, pgReady, stopPostgres } from './postgres.js';
import { secureStackDir } from './private-files.js';
import { ensureSftp, sftpHealthy, sftpServer, sftpUrl, stopSftp, type SftpServer } from './sftp.js';
import { isRoot, livePid } from './process.js';
import {
  ensureTemporal,
  stopTemporal,
  temporalEndpoints,
  temporalHealthy,
  temporalUiHealthy,
} from './temporal.js';

export { StackError } from './config.js';

export interface StackInfo {
  temporalAddress: string;
  /** The Temporal Web UI server, behind the gateway. */
  temporalUiUrl: string;
  /** The Web UI as people open it: the control API's sign-in gateway in front of the Temporal Web UI. */
  webUiUrl: string;
  /** Where the platform's control API listens: Temporal reads its JWKS there. */
  controlApiUrl: string;
  /** The control database as the application role (not a superuser, owns nothing); password included. */
  databaseUrl: string;
  /** The same database as its owner: only migrations use it. */
  databaseMigrationUrl: string;
  /** The cluster's bootstrap superuser on the `postgres` database: for tests that create databases of their own. */
  databaseAdminUrl: string;
  awsEndpoint: string;
  gateways: Record<GatewayCode, string>;
  /**
   * Each gateway's files the platform writes or reads: the proxy password file (its region host's
   * workers), the control file (how its ACL helper asks the control API) and its access log.
   */
  gatewayFiles: Record<GatewayCode, { passwd: string; control: string; accessLog: string }>;
  /** Environment accounts vended at `stack up`, from which the control API takes one per environment. */
  accountPoolFile: string;
  /** The control plane's and the worker hosts' keys on the local S3/KMS/IAM service. */
  awsIdentities: AwsIdentities;
  /** The customer-side SFTP server and its host key's fingerprint (none without root); its users are made per test. */
  sftp?: SftpServer;
  /** The Schemathesis command, which fuzzes the control API in the tests. */
  schemathesis: string;
}

export interface ServiceStatus {
  name: string;
  url: string;
  up: boolean;
  pid: number | undefined;
}

export interface StackUpOptions {
  quiet?: boolean;
}

export interface StackDownOptions {
  quiet?: boolean;
  /** Also delete the runtime folder (.stack): data, logs, configs. */
  purge?: boolean;
}

const reporter = (quiet: boolean | undefined): Report =>
  quiet === true ? () => undefined : (line) => console.log(line);

/** Where the running services are, and the identities to use them with. */
function stackInfo(paths: StackPaths, ports: StackPorts, awsIdentities: AwsIdentities): StackInfo {
  const temporal = temporalEndpoints(ports);
  const database = databaseUrls(paths, ports);
  return {
    temporalAddress: temporal.address,
    temporalUiUrl: temporal.uiUrl,
    webUiUrl: `http://127.0.0.1:${ports.webUi}`,
    controlApiUrl: `http://127.0.0.1:${ports.controlApi}`,
    databaseUrl: database.app,
    databaseMigrationUrl: database.owner,
    databaseAdminUrl: database.admin,
    awsEndpoint: motoUrl(ports),
    gateways: { us1: gatewayUrl(ports, 'us1'), ca1: gatewayUrl(ports, 'ca1'), eu1: gatewayUrl(ports, 'eu1') },
    gatewayFiles: {
      us1: gatewayFiles(paths, 'us1'),
      ca1: gatewayFiles(paths, 'ca1'),
      eu1: gatewayFiles(paths, 'eu1'),
    },
    accountPoolFile: accountPoolFile(paths),
    awsIdentities,
    sftp: isRoot() ? sftpServer(paths, ports) : undefined,
    schemathesis: schemathesisPath(paths),
  };
}

/** Starts every service that is not already healthy, reusing those that are; safe to call repeatedly. */
export async function stackUp(options: StackUpOptions = {}): Promise<StackInfo> {
  const report = reporter(options.quiet);
  const paths = stackPaths();
  const ports = stackPorts();
  await secureStackDir(paths);
  report(`stack: runtime data in ${displayPath(paths.stackDir)}, tools cached in ${paths.cacheDir}`);
  const outcomes = await settleAll([
    ensureTemporal(paths, ports, report),
    named('postgres', ensurePostgres(paths, ports, report)),
    ensureMotoThenGateways(paths, ports, report),
    named('chromium', ensureBrowser(report)),
    named('nftables', ensureNftables(report)),
    named('sftp', ensureSftp(paths, ports, report)),
    named('schemathesis', ensureSchemathesis(paths, report)),
  ]);
  const awsIdentities = await ensureAwsIdentities(paths, motoUrl(ports), report);
  await ensureAccountPool({
    paths,
    endpoint: motoUrl(ports),
    identities: awsIdentities,
    databaseUrl: databaseUrls(paths, ports).owner,
    report,
  });
  report(`stack: ready (${outcomes.map(([name, outcome]) => `${name} ${outcome}`).join(', ')})`);
  return stackInfo(paths, ports, awsIdentities);
}

type NamedOutcome = [string, Outcome];

async function named(name: string, outcome: Promise<Outcome>): Promise<NamedOutcome[]> {
  return [[name, await outcome]];
}

async function ensureMotoThenGateways(
  paths: StackPaths,
  ports: StackPorts,
  report: Report,
): Promise<NamedOutcome[]> {
  const results: NamedOutcome[] = [['moto', await ensureMoto(paths, ports, report)]];
  for (const code of GATEWAY_CODES)
    results.push([gatewayName(code), await ensureGateway(paths, ports, code, report)]);
  return results;
}

/** Lets every service finish its own start before failing, so one failure does not hide another. */
async function settleAll(tasks: Promise<NamedOutcome[]>[]): Promise<NamedOutcome[]> {
  const settled = await Promise.allSettled(tasks);
  const failures = settled.flatMap((result) =>
    result.status === 'rejected' ? [result.reason as unknown] : [],
  );
  if (failures.length > 0) {
    throw new StackError(
      failures.map((failure) => (failure instanceof Error ? failure.message : String(failure))).join('\n\n'),
    );
  }
  return settled.flatMap((result) => (result.status === 'fulfilled' ? result.value : []));
}

export async function stackStatus(): Promise<ServiceStatus[]> {
  const paths = stackPaths();
  const ports = stackPorts();
  const temporal = temporalEndpoints(ports);
  const entry = async (name: string, url: string, healthy: Promise<boolean>): Promise<ServiceStatus> => ({
    name,
    url,
    up: await healthy,
    pid: livePid(paths, name),
  });
  return Promise.all([
    entry('temporal', temporal.address, temporalHealthy(temporal)),
    ...(temporal.uiUrl === '' ? [] : [entry('temporal-ui', temporal.uiUrl, temporalUiHealthy(temporal))]),
    entry('postgres', databaseDisplayUrl(ports), pgReady(ports.postgres)),
    entry('moto', motoUrl(ports), motoHealthy(ports)),
    entry('sftp', sftpUrl(ports), sftpHealthy(ports)),
    ...GATEWAY_CODES.map((code) =>
      entry(gatewayName(code), gatewayUrl(ports, code), gatewayHealthy(ports, code)),
    ),
  ]);
}

/** Stops what the pid files name, gateways before what they front; data stays unless purge is set. */
export async function stackDown(options: StackDownOptions = {}): Promise<void> {
  const report = reporter(options.quiet);
  const paths = stackPaths();
  // Every service is asked to stop, PostgreSQL last, even when one of them would not: the first
  // refusal is reported once all were tried.
  const settled = [
    ...(await Promise.allSettled(GATEWAY_CODES.map((code) => stopGateway(paths, code, report)))),
    ...(await Promise.allSettled([
      stopMoto(paths, report),
      stopTemporal(paths, report),
      stopSftp(paths, report),
    ])),
    ...(await Promise.allSettled([stopPostgres(paths, report)])),
  ];
  const refused = settled.find((result) => result.status === 'rejected');
  if (refused) throw refused.reason;
  if (options.purge === true) {
    assertSafeToPurge(paths);
    rmSync(paths.stackDir, { recursive: true, force: true });
    report(`stack: deleted ${paths.stackDir}`);
  }
}

/** TAVIO_STACK_DIR can point anywhere, so refuse to delete a folder that holds the checkout or the home folder. */
function assertSafeToPurge(paths: StackPaths): void {
  const containsPath = (outer: string, inner: string): boolean => !relative(outer, inner).startsWith('..');
  if (containsPath(paths.stackDir, paths.repoRoot) || containsPath(paths.stackDir, homedir())) {
    throw new StackError(
      `refusing to delete ${paths.stackDir}: it contains the checkout or the home folder; check TAVIO_STACK_DIR`,
    );
  }
}
