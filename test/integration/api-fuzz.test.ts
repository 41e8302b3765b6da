import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { ControlApi } from '../../control-api/platform.js';
import type { EnvScenario } from '../support/scenario.js';
import { completedRun, newEnvironment, operatorClient } from '../support/scenario.js';
import { startOtherControlApi } from '../support/control-api.js';

/**
 * Schemathesis generates requests from the API's OpenAPI document (examples, coverage, fuzzing, and
 * the stateful phase along its links) with an organization admin key, its path parameters pointed
 * at that organization's real environment, connection, run and a spare key. Every answer must be
 * below 500 and match what the document declares: status, content type and schema.
 *
 * A control API of its own, on the platform's database and Temporal, takes the requests, with rate
 * limits out of the way; the organization's quotas keep what the fuzzer may create small.
 */
const CHECKS = [
  'not_a_server_error',
  'status_code_conformance',
  'content_type_conformance',
  'response_schema_conformance',
];

describe('the control API under Schemathesis', () => {
  let api: ControlApi;
  let s: EnvScenario;
  let workdir: string;

  beforeAll(async () => {
    s = await newEnvironment('us', { employees: 20 });
    await completedRun(s);
    await operatorClient().setQuotas(s.org, {
      environments: 1,
      connections: 4,
      runsPerMinute: 10,
      concurrentRunsPerEnvironment: 2,
    });
    api = await startOtherControlApi({
      TAVIO_RATE_LIMIT_PER_KEY: '1000000',
      TAVIO_RATE_LIMIT_PER_ADDRESS: '1000000',
      TAVIO_AUTH_FAILURES_PER_KEY: '10000',
      TAVIO_AUTH_FAILURES_PER_ADDRESS: '100000',
    });
    workdir = mkdtempSync(join(tmpdir(), 'tavio-fuzz-'));
  });
  afterAll(async () => {
    await api?.close();
    await s?.close();
    if (workdir) rmSync(workdir, { recursive: true, force: true });
  });

  it('answers no 5xx, and only what its document declares, to generated requests', async () => {
    const [run] = await s.client.listRuns(s.org, s.env);
    const spare = await s.admin.createEnvironmentKey(s.org, s.env);
    const config = join(workdir, 'schemathesis.toml');
    writeFileSync(
      config,
      [
        '[parameters]',
        `org = "${s.org}"`,
        `env = "${s.env}"`,
        `connection = "${s.sourceConnectionId}"`,
        `run = "${run!.id}"`,
        `key = "${spare.id}"`,
        'region = "us"',
        '',
      ].join('\n'),
    );
    const report = join(workdir, 'report.json');
    const args = [
      ...['--config-file', config, 'run', `${api.url}/openapi.json`],
      ...['--header', `Authorization: Bearer ${s.adminKey}`],
      ...['--checks', CHECKS.join(','), '--phases', 'examples,coverage,fuzzing,stateful'],
      ...['--max-examples', '15', '--seed', '20261130', '--generation-database', 'none'],
      // Retiring the environment would leave the rest nothing to act on; retirement has tests of its own.
      ...['--exclude-operation-id', 'retireEnvironment'],
      ...['--report', 'json', '--report-json-path', report, '--no-color', '--workers', '2'],
    ];
    // In its own folder: Schemathesis keeps a cache where it runs.
    const child = spawn(inject('stack').schemathesis, args, {
      cwd: workdir,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    // The summary, for the record: operations, test cases and what each phase found. Its closing
    // banner ("=== N warnings in Xs ===") is left out: it reads like a test runner's last line
    // reporting no test, in the middle of this suite's output.
    const summaryLines = output.split('\n').slice(-40);
    process.stdout.write(`${summaryLines.filter((line) => !/^=+ .* =+$/.test(line)).join('\n')}\n`);
    expect(code, output.slice(-6000)).toBe(0);
    const summary = JSON.parse(readFileSync(report, 'utf8')) as Record<string, unknown>;
    expect(summary).toBeTruthy();
  }, 600_000);
});
