import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startHrisSource } from '../../fixtures/hris-source.js';
import type { HrisSource } from '../../fixtures/hris-source.js';
import { startUpsertDestination } from '../../fixtures/upsert-destination.js';
import type { UpsertDestination } from '../../fixtures/upsert-destination.js';
import { PROGRESS_QUERY_WAIT_MS } from '../../control-api/run-progress.js';
import type { RunProgress } from '../../control-api/run-progress.js';
import { newEnvironment, runRequest, uniqueSlug } from '../support/scenario.js';

const EMPLOYEES = 600;
/** 30 pages of 20, a few per activity, each batch held by the destination: a run of several seconds. */
const SLOW_SYNC = ['--option', 'pageSize=20', '--option', 'pagesPerExecution=3'];
const DESTINATION_DELAY_MS = 150;

interface Outcome {
  code: number | null;
  stdout: string;
  stderr: string;
  /** When each stdout line arrived, in ms since the start. */
  lineTimes: number[];
}

/** Runs `tavio` as a child process, as a person would, with the key in its environment. */
function tavio(
  args: string[],
  options: { key?: string; stdin?: string; terminal?: boolean } = {},
): Promise<Outcome> {
  const env: Record<string, string | undefined> = { ...process.env, TAVIO_ORG: '', TAVIO_ENV: '' };
  env.TAVIO_API_URL = inject('controlApiUrl');
  env.TAVIO_API_KEY = options.key ?? '';
  const started = Date.now();
  const command = [process.execPath, '--import', 'tsx', 'cli/tavio.ts', ...args];
  // On a terminal: util-linux `script` gives the command a pseudo-terminal (-e: its exit code).
  const [file, ...argv] = options.terminal ? ['script', '-qec', command.join(' '), '/dev/null'] : command;
  const child = spawn(file!, argv, { env, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  const lineTimes: number[] = [];
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
    const at = Date.now() - started;
    for (const char of chunk) if (char === '\n') lineTimes.push(at);
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  child.stdin.end(options.stdin ?? '');
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr, lineTimes }));
  });
}

const lines = (text: string) => text.split('\n').filter(Boolean);

describe('the tavio command-line tool', () => {
  const org = uniqueSlug('cli');
  const env = 'production';
  const at = ['--org', org, '--env', env];
  const sourceKey = randomBytes(16).toString('hex');
  const token = randomBytes(16).toString('hex');
  const files = mkdtempSync(join(tmpdir(), 'tavio-cli-'));
  let source: HrisSource;
  let destination: UpsertDestination;
  let adminKey: string;
  let envKey: string;
  const connection = { source: '', destination: '' };
  let retired = false;

  beforeAll(async () => {
    source = await startHrisSource({ apiKey: sourceKey, employees: EMPLOYEES, rateLimitEvery: 0 });
    destination = await startUpsertDestination({ token, delayMs: DESTINATION_DELAY_MS });
  });
  afterAll(async () => {
    await source.close();
    await destination.close();
    if (adminKey && !retired)
      await tavio(['environments', 'retire', env, '--org', org, '--yes'], { key: adminKey });
    rmSync(files, { recursive: true, force: true });
  });

  it('creates an organization, an environment, its key, and connections whose credentials come on stdin', async () => {
    const created = await tavio(['organizations', 'create', org], { key: inject('operatorKey') });
    expect(created).toMatchObject({ code: 0 });
    expect(created.stderr).toContain(`organization ${org}`);
    adminKey = created.stdout.trim();
    expect(adminKey).toMatch(/^tav_org_/);

    const environment = await tavio(
      ['environments', 'create', env, '--org', org, '--region', 'eu', '--json'],
      {
        key: adminKey,
      },
    );
    expect(environment.code).toBe(0);
    expect(JSON.parse(environment.stdout)).toMatchObject({ slug: env, region: 'eu', status: 'active' });

    const issued = await tavio(['keys', 'create', ...at], { key: adminKey });
    expect(issued.code).toBe(0);
    envKey = issued.stdout.trim();
    expect(envKey).toMatch(/^tav_env_/);
    expect(issued.stderr).toContain('shown this once');

    const hris = await tavio(
      [
        'connections',
        'create',
        ...at,
        '--name',
        'hris',
        '--kind',
        'hris-rest',
        '--base-url',
        source.url,
        '--json',
      ],
      { key: envKey, stdin: JSON.stringify({ apiKey: sourceKey }) },
    );
    expect(hris.code).toBe(0);
    connection.source = (JSON.parse(hris.stdout) as { id: string }).id;
    const directory = await tavio(
      [
        'connections',
        'create',
        ...at,
        '--name',
        'directory',
        '--kind',
        'upsert-rest',
        '--base-url',
        destination.url,
      ],
      { key: envKey, stdin: JSON.stringify({ token }) },
    );
    expect(directory.code).toBe(0);
    connection.destination = /^connection\s+(\S+)$/m.exec(directory.stdout)![1]!;

    const listed = await tavio(['connections', 'list', ...at, '--json'], { key: envKey });
    const connections = JSON.parse(listed.stdout) as { id: string; name: string }[];
    expect(connections.map((c) => c.id).sort()).toEqual([connection.source, connection.destination].sort());
    // Credentials are write-only: no answer of the tool carries them.
    for (const outcome of [hris, directory, listed]) {
      expect(outcome.stdout + outcome.stderr).not.toContain(sourceKey);
      expect(outcome.stdout + outcome.stderr).not.toContain(token);
    }
  });

  it('starts a sync with --wait, shows its progress line by line, and exits 0 with the summary', async () => {
    const outcome = await tavio(
      [
        'runs',
        'start',
        ...at,
        '--integration',
        'hris-employee-sync',
        '--wait',
        ...connectionArgs(),
        ...SLOW_SYNC,
      ],
      { key: envKey },
    );
    expect(outcome.stderr).toBe('');
    expect(outcome.code).toBe(0);
    const output = lines(outcome.stdout);
    expect(output[0]).toMatch(/^run \S+ started: hris-employee-sync in \S+ on task queue eu1$/);
    const progress = output.filter((line) => line.startsWith('running, '));
    const pages = progress
      .map((line) => /pages (\d+)/.exec(line)?.[1])
      .filter((n): n is string => n !== undefined)
      .map(Number);
    // Counts come from the workflow through the API, and grow.
    expect(pages.length).toBeGreaterThanOrEqual(2);
    expect(pages).toEqual([...pages].sort((a, b) => a - b));
    expect(pages.at(-1)).toBeGreaterThan(pages[0]!);
    expect(progress.every((line) => /^running, \d+:\d\d elapsed: /.test(line))).toBe(true);
    // Not a terminal: a line per change, at most every two seconds.
    const times = outcome.lineTimes.slice(1, 1 + progress.length);
    for (let i = 1; i < times.length; i++) expect(times[i]! - times[i - 1]!).toBeGreaterThanOrEqual(1_500);
    expect(output.at(-2)).toMatch(
      new RegExp(
        `^run \\S+ completed in \\d+:\\d\\d: pages 30, records read ${EMPLOYEES}, written \\d+, skipped \\d+`,
      ),
    );
    expect(output.at(-1)).toMatch(/^http/);
  }, 120_000);

  it('prints JSON lines with --json: started, progress, and the closed run', async () => {
    const outcome = await tavio(
      [
        'runs',
        'start',
        ...at,
        '--integration',
        'hris-employee-sync',
        '--wait',
        '--json',
        ...connectionArgs(),
        ...SLOW_SYNC,
      ],
      { key: envKey },
    );
    expect(outcome.code).toBe(0);
    const events = lines(outcome.stdout).map(
      (line) => JSON.parse(line) as { type: string } & Record<string, unknown>,
    );
    expect(events[0]).toMatchObject({ type: 'started', status: 'running' });
    const progress = events.filter((e) => e.type === 'progress') as unknown as RunProgress[];
    expect(progress.length).toBeGreaterThanOrEqual(2);
    expect(progress.at(-1)).toMatchObject({ status: 'completed', source: 'summary' });
    const last = events.at(-1)!;
    expect(last).toMatchObject({
      type: 'run',
      status: 'completed',
      summary: { recordsRead: EMPLOYEES, pages: 30 },
    });

    const runId = last.id as string;
    const got = await tavio(['runs', 'get', runId, ...at, '--json'], { key: envKey });
    expect(JSON.parse(got.stdout)).toMatchObject({ id: runId, status: 'completed' });
    const listed = await tavio(['runs', 'list', ...at, '--json'], { key: envKey });
    expect((JSON.parse(listed.stdout) as { id: string }[]).map((r) => r.id)).toContain(runId);
    const residency = await tavio(['runs', 'residency', runId, ...at, '--json'], { key: envKey });
    expect(JSON.parse(residency.stdout)).toMatchObject({ region: 'eu', taskQueue: 'eu1', final: true });
    const waited = await tavio(['runs', 'wait', runId, ...at], { key: envKey });
    expect(waited.code).toBe(0);
    // On a terminal, progress is one line redrawn in place.
    const onTerminal = await tavio(['runs', 'wait', runId, ...at], { key: envKey, terminal: true });
    expect(onTerminal.code).toBe(0);
    const redrawn = onTerminal.stdout.split('\r\u001b[2K').at(-1)!;
    expect(onTerminal.stdout).toContain('\r\u001b[2K');
    expect(redrawn).toMatch(/^completed, \d+:\d\d elapsed: pages 30, /);
    const logs = await tavio(['runs', 'logs', runId, ...at, '--json', '--event', 'page.loaded'], {
      key: envKey,
    });
    expect(logs.code).toBe(0);
    const records = lines(logs.stdout).map((line) => JSON.parse(line) as { event: string });
    expect(records.length).toBeGreaterThan(0);
    expect(records.every((record) => record.event === 'page.loaded')).toBe(true);
  }, 120_000);

  it('exits 3 with the failure when the run fails', async () => {
    const credentials = join(files, 'wrong-hris.json');
    writeFileSync(credentials, JSON.stringify({ apiKey: 'not-the-source-key' }), { mode: 0o600 });
    const wrong = await tavio(
      [
        'connections',
        'create',
        ...at,
        '--name',
        'hris-wrong-key',
        '--kind',
        'hris-rest',
        '--base-url',
        source.url,
        '--credentials-file',
        credentials,
        '--json',
      ],
      { key: envKey },
    );
    expect(wrong.code).toBe(0);
    const wrongId = (JSON.parse(wrong.stdout) as { id: string }).id;
    const outcome = await tavio(
      [
        'runs',
        'start',
        ...at,
        '--integration',
        'hris-employee-sync',
        '--wait',
        '--connection',
        `source=${wrongId}`,
        '--connection',
        `destination=${connection.destination}`,
      ],
      { key: envKey },
    );
    expect(outcome.code).toBe(3);
    expect(lines(outcome.stdout).at(-2)).toMatch(/^run \S+ failed after \d+:\d\d: SourceAuthRejected: /);
  }, 120_000);

  it('shows a problem as error: <title>: <detail> (<type>) and exits 1', async () => {
    const outcome = await tavio(['runs', 'list', '--org', org, '--env', 'no-such-env'], { key: adminKey });
    expect(outcome.code).toBe(1);
    expect(outcome.stdout).toBe('');
    expect(outcome.stderr.trim()).toMatch(
      /^error: Not found: .*no-such-env.* \(https:\/\/tavio\.dev\/problems\/not-found\)$/,
    );
    const json = await tavio(['runs', 'list', '--org', org, '--env', 'no-such-env', '--json'], {
      key: adminKey,
    });
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toMatchObject({ type: 'problem', problem: { status: 404 } });
  });

  it('refuses a secret on the command line before calling the API, and exits 2', async () => {
    const before = await tavio(['connections', 'list', ...at, '--json'], { key: envKey });
    const create = [
      'connections',
      'create',
      ...at,
      '--name',
      'argv',
      '--kind',
      'hris-rest',
      '--base-url',
      source.url,
    ];
    const attempts = [
      [...create, '--password', 'hunter2-secret'],
      [...create, '--api-key=hunter2-secret'],
      [...create, '--credentials', '{"apiKey":"hunter2-secret"}'],
      ['runs', 'list', ...at, '--option', 'token=hunter2-secret'],
      ['keys', 'list', '--org', org, envKey],
    ];
    for (const args of attempts) {
      const outcome = await tavio(args, { key: envKey, stdin: JSON.stringify({ apiKey: sourceKey }) });
      expect(outcome.code, args.join(' ')).toBe(2);
      expect(outcome.stderr).toMatch(/^error: .*secrets are never taken from the command line/);
      expect(outcome.stderr).not.toContain('hunter2');
      expect(outcome.stderr).not.toContain(envKey);
    }
    const after = await tavio(['connections', 'list', ...at, '--json'], { key: envKey });
    expect(JSON.parse(after.stdout)).toEqual(JSON.parse(before.stdout));
    // Without a key in the environment or a file, nothing is asked of the API.
    expect(await tavio(['runs', 'list', ...at])).toMatchObject({
      code: 2,
      stderr: expect.stringMatching(/no API key/),
    });
  });

  it('rotates credentials from stdin, and issues, rotates and revokes keys', async () => {
    const rotated = await tavio(
      ['connections', 'rotate-credentials', connection.destination, ...at, '--json'],
      {
        key: envKey,
        stdin: JSON.stringify({ token }),
      },
    );
    expect(rotated.code).toBe(0);
    expect(JSON.parse(rotated.stdout)).toMatchObject({ id: connection.destination, credentialsVersion: 2 });
    expect(rotated.stdout).not.toContain(token);

    const issued = JSON.parse(
      (await tavio(['keys', 'create', ...at, '--json'], { key: adminKey })).stdout,
    ) as { id: string; key: string };
    const successor = await tavio(['keys', 'rotate', issued.id, '--org', org, '--json'], { key: adminKey });
    expect(successor.code).toBe(0);
    const next = JSON.parse(successor.stdout) as { id: string; key: string };
    expect(next.key).not.toBe(issued.key);
    const listed = await tavio(['keys', 'list', '--org', org, '--json'], { key: adminKey });
    const keys = JSON.parse(listed.stdout) as { id: string; status: string }[];
    expect(keys.find((k) => k.id === issued.id)?.status).not.toBe('active');
    expect(keys.find((k) => k.id === next.id)?.status).toBe('active');
    expect(listed.stdout).not.toContain(next.key);
    const revoked = await tavio(['keys', 'revoke', next.id, '--org', org], { key: adminKey });
    expect(revoked).toMatchObject({ code: 0, stdout: expect.stringMatching(/revoked/) });
    // The rotated and the revoked key answer 401, shown as a problem.
    for (const key of [issued.key, next.key]) {
      const refused = await tavio(['runs', 'list', ...at], { key });
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(
        /^error: Unauthorized.*\(https:\/\/tavio\.dev\/problems\/unauthorized\)/,
      );
    }
  });

  it('retires the environment only when confirmed', async () => {
    const unconfirmed = await tavio(['environments', 'retire', env, '--org', org], { key: adminKey });
    expect(unconfirmed.code).toBe(2);
    expect(unconfirmed.stderr).toMatch(/cannot be undone: add --yes/);
    const outcome = await tavio(['environments', 'retire', env, '--org', org, '--yes', '--json'], {
      key: adminKey,
    });
    expect(outcome.code).toBe(0);
    retired = true;
    expect(JSON.parse(outcome.stdout)).toMatchObject({ environment: { slug: env, status: 'retired' } });
  }, 120_000);

  function connectionArgs(): string[] {
    return [
      '--connection',
      `source=${connection.source}`,
      '--connection',
      `destination=${connection.destination}`,
    ];
  }
});

describe('run progress through the API', () => {
  it("answers a running run's growing counts from its workflow, and a closed run's totals from its summary", async () => {
    const s = await newEnvironment('eu', {
      employees: EMPLOYEES,
      destination: { delayMs: DESTINATION_DELAY_MS },
    });
    try {
      const run = await s.client.createRun(
        s.org,
        s.env,
        runRequest(s, { options: { pageSize: 20, pagesPerExecution: 3 } }),
      );
      const seen: RunProgress[] = [];
      for (;;) {
        const asked = Date.now();
        const progress = await s.client.getRunProgress(s.org, s.env, run.id);
        // A run whose worker is not there yet never holds the request beyond the query's bound.
        expect(Date.now() - asked).toBeLessThan(PROGRESS_QUERY_WAIT_MS + 1_500);
        seen.push(progress);
        if (progress.status !== 'running') break;
        await new Promise((resolve) => setTimeout(resolve, 300));
      }
      const fromWorkflow = seen.filter((p) => p.source === 'workflow').map((p) => p.progress!.pages!);
      expect(new Set(fromWorkflow).size).toBeGreaterThanOrEqual(2);
      expect(fromWorkflow).toEqual([...fromWorkflow].sort((a, b) => a - b));
      for (const progress of seen.filter((p) => p.status === 'running' && !p.progress))
        expect(progress.unavailableReason).toEqual(expect.any(String));

      const done = await s.client.waitForRun(s.org, s.env, run.id);
      const closed = await s.client.getRunProgress(s.org, s.env, run.id);
      const summary = done.summary as Record<string, unknown>;
      expect(closed).toMatchObject({
        status: 'completed',
        source: 'summary',
        unavailableReason: null,
        closedAt: done.closedAt,
        progress: {
          pages: 30,
          recordsRead: EMPLOYEES,
          recordsWritten: summary.recordsWritten,
          recordsSkipped: summary.recordsSkipped,
          executions: 10,
        },
      });
      // Counts and times only: no cursor, checksum, egress by host, or duration among the counts.
      expect(Object.keys(closed.progress!).sort()).toEqual(
        [
          'executions',
          'pages',
          'recordsDeactivated',
          'recordsRead',
          'recordsSkipped',
          'recordsWritten',
        ].sort(),
      );
      expect(closed.elapsedMs).toBe(Date.parse(done.closedAt!) - Date.parse(done.createdAt));
      for (const progress of seen)
        expect(Object.values(progress.progress ?? {}).every((n) => Number.isInteger(n))).toBe(true);
    } finally {
      await s.close();
    }
  }, 120_000);
});
