import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { finished } from 'node:stream/promises';
import { DeleteObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { proxyAuthorization } from '../activities/http.js';
import { openSftp } from '../activities/sftp-session.js';
import { DATAPLANE_ROLE } from '../common/names.js';
import { summaryOf } from '../control-api/client.js';
import { environmentWorkerPid, peakRssMiB, waitFor } from '../scripts/processes.js';
import { assumeEnvironmentRole } from '../scripts/stack/environment-roles.js';
import { createSftpAccount } from '../scripts/stack/sftp-accounts.js';
import type { SftpAccount } from '../scripts/stack/sftp-accounts.js';
import { createGatewayCredentials } from '../workers/gateway-credentials.js';
import { benchPlatform, percentile } from './support.js';

/**
 * Managed file transfer: the environment worker's memory against a file's size, and throughput
 * against a plain script, in one run. Method: one environment in region us, two accounts on the
 * stack's SFTP server (source and destination), and for each size a file of random bytes.
 * - baseline: a plain script that opens an SFTP session to the source through a gateway with the
 *   stack's configuration (as the environment's proxy user) and streams the file into the
 *   environment's bucket with `@aws-sdk/lib-storage` (parts of 8 MiB, its default of 4 at once),
 *   straight to the S3 service, as the environment's data-plane role, without sealing.
 * - Tavio: a run of sftp-file-transfer through the region host, its worker and the region's
 *   gateway: the file is read from the source, sealed part by part into the bucket, read back,
 *   written to the destination and checked, then its buffered copy dropped. Timed by the
 *   workflow's own clock and by the client's (create call to completion, polled every 100 ms).
 * Throughput is the file's size over the time taken: Tavio moves the file twice (in and out of
 * the bucket), the baseline once, as the goal defines them. Each size runs ROUNDS rounds (default 3;
 * one for files over 256 MiB), baseline then Tavio. The worker's peak RSS (VmHWM) is read after
 * the runs of each size: the sizes run smallest first, so its growth is what the larger file took.
 * Usage: tsx bench/file-transfer.ts [sizes in MiB, comma-separated; default 10,1024] [rounds].
 */
const SIZES = (process.argv[2] ?? '10,1024').split(',').map(Number);
const ROUNDS = Number(process.argv[3] ?? 3);
if (SIZES.some((size) => !(size > 0)) || !Number.isInteger(ROUNDS) || ROUNDS < 1)
  throw new Error('usage: tsx bench/file-transfer.ts [sizes in MiB, comma-separated] [rounds]');
const MiB = 1024 * 1024;
const say = (line: string) => process.stderr.write(`${line}\n`);

/** Writes `mib` MiB of random bytes as a file of the account, without holding it in memory. */
async function writeFile(account: SftpAccount, name: string, mib: number) {
  await account.put(name, '');
  const out = createWriteStream(join(account.folder, name), { flags: 'a' });
  const block = randomBytes(MiB);
  for (let i = 0; i < mib; i++) if (!out.write(block)) await once(out, 'drain');
  out.end();
  await finished(out);
}

const bench = await benchPlatform({ regions: ['us'], employees: 1 });
const { org, client, stack } = bench;
const baselineGateway = await bench.gateway();
const accounts: SftpAccount[] = [];
try {
  const [source, destination] = await Promise.all([
    createSftpAccount(stack.sftp),
    createSftpAccount(stack.sftp),
  ]);
  accounts.push(source, destination);
  const environment = await client.createEnvironment(org, 'files', 'us');
  const { namespace } = environment;
  const connect = (name: string, account: SftpAccount) =>
    client.createConnection(org, 'files', account.connection(name));
  const [src, dst] = await Promise.all([connect('source', source), connect('destination', destination)]);
  const route = {
    url: baselineGateway.url,
    code: 'us1',
    authorization: proxyAuthorization(
      await createGatewayCredentials(baselineGateway.files.passwd).issue(environment.id),
    ),
  };
  // The environment's data-plane role, straight at the S3 service.
  const s3 = new S3Client({
    region: environment.awsRegion,
    endpoint: stack.awsEndpoint,
    forcePathStyle: true,
    credentials: await assumeEnvironmentRole(environment, DATAPLANE_ROLE, stack, 'bench-baseline'),
  });

  /** The plain script: seconds to stream the file from the source into the bucket. */
  async function baseline(name: string): Promise<number> {
    const started = process.hrtime.bigint();
    const session = await openSftp(route, source.baseUrl, {
      username: source.username,
      password: source.password,
      hostKeySha256: source.hostKeySha256,
    });
    const key = `tmp/bench-${name}`;
    try {
      await new Upload({
        client: s3,
        params: { Bucket: environment.bucket, Key: key, Body: session.sftp.createReadStream(name) },
        partSize: 8 * MiB,
      }).done();
    } finally {
      session.close();
    }
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    await s3.send(new DeleteObjectCommand({ Bucket: environment.bucket, Key: key }));
    return seconds;
  }

  /** A Tavio run that moves the file: seconds by the workflow's clock and by the client's. */
  async function tavio(name: string, bytes: number) {
    const started = Date.now();
    const run = await client.createRun(org, 'files', {
      integration: 'sftp-file-transfer',
      connections: { source: src.id, destination: dst.id },
      options: { sourceAfter: 'delete' },
      idempotencyKey: `bench-${name}`,
    });
    const done = await client.waitForRun(org, 'files', run.id, { timeoutMs: 1_800_000, intervalMs: 100 });
    const summary = summaryOf(done, 'sftp-file-transfer');
    if (done.status !== 'completed' || summary?.bytes !== bytes)
      throw new Error(`run ended ${done.status}: ${done.failure ?? `${summary?.bytes} bytes`}`);
    await rm(join(destination.folder, name));
    return { workflow: summary.durationMs / 1000, wall: (Date.now() - started) / 1000 };
  }

  const rows: { mib: number; plain: number; workflow: number; wall: number; peak: number }[] = [];
  let pid: number | undefined;
  for (const mib of SIZES) {
    const rounds = mib > 256 ? 1 : ROUNDS;
    const plain: number[] = [];
    const workflow: number[] = [];
    const wall: number[] = [];
    for (let round = 1; round <= rounds; round++) {
      const name = `bench-${mib}-${round}.bin`;
      say(`${mib} MiB, round ${round}/${rounds}: writing the file, then the baseline and a Tavio run...`);
      await writeFile(source, name, mib);
      plain.push(mib / (await baseline(name)));
      const timed = await tavio(name, mib * MiB);
      workflow.push(mib / timed.workflow);
      wall.push(mib / timed.wall);
      say(
        `  baseline ${plain.at(-1)!.toFixed(1)} MiB/s, Tavio ${workflow.at(-1)!.toFixed(1)} MiB/s (workflow clock)`,
      );
    }
    pid ??= await waitFor('the environment worker', () => environmentWorkerPid(namespace), 5_000);
    const median = (values: number[]) => percentile(values, 0.5);
    rows.push({
      mib,
      plain: median(plain),
      workflow: median(workflow),
      wall: median(wall),
      peak: peakRssMiB(pid),
    });
  }

  console.log(
    'file       baseline MiB/s   Tavio MiB/s (ratio)         Tavio wall MiB/s (ratio)   worker peak RSS',
  );
  for (const r of rows)
    console.log(
      `${`${r.mib} MiB`.padEnd(10)} ${r.plain.toFixed(1).padStart(14)}   ${r.workflow.toFixed(1).padStart(11)} (${(r.workflow / r.plain).toFixed(2)}x)   ${r.wall.toFixed(1).padStart(16)} (${(r.wall / r.plain).toFixed(2)}x)         ${r.peak} MiB`,
    );
  const growth = rows.at(-1)!.peak - rows[0]!.peak;
  console.log(`worker peak RSS growth from ${rows[0]!.mib} MiB to ${rows.at(-1)!.mib} MiB: ${growth} MiB`);
  console.log(
    JSON.stringify({
      bench: 'file-transfer',
      rounds: ROUNDS,
      sizes: rows.map((r) => ({
        mib: r.mib,
        baselineMiBs: Number(r.plain.toFixed(2)),
        tavioMiBs: Number(r.workflow.toFixed(2)),
        ratio: Number((r.workflow / r.plain).toFixed(3)),
        ratioWall: Number((r.wall / r.plain).toFixed(3)),
        workerPeakRssMiB: r.peak,
      })),
      peakGrowthMiB: growth,
    }),
  );
  s3.destroy();
  await client.retireEnvironment(org, 'files');
} finally {
  await Promise.all(accounts.map((a) => a.close()));
  baselineGateway.stop();
  await bench.close();
}
