import { randomUUID } from 'node:crypto';
import { Option } from 'commander';
import type { Command } from 'commander';
import type { Run } from '../../control-api/client.js';
import type { Context } from '../context.js';
import { UsageError } from '../errors.js';
import { printFields, printJson, printTable, show } from '../output.js';
import type { Output } from '../output.js';
import { wholeNumber } from '../runner.js';
import type { Runner } from '../runner.js';
import { progressLine, waitAndReport } from '../watch.js';

interface WaitOptions {
  timeout?: number;
  interval: number;
}

function showRun(out: Output, run: Run): void {
  printFields(out, {
    run: run.id,
    integration: run.integration,
    status: run.status,
    ...(run.failure ? { failure: run.failure } : {}),
    ...(run.waitingFor ? { 'waiting for': run.waitingFor } : {}),
    region: `${run.region} (task queue ${run.taskQueue})`,
    namespace: run.namespace,
    workflow: run.workflowId,
    'idempotency key': run.idempotencyKey,
    created: run.createdAt,
    closed: run.closedAt,
    summary: run.summary,
    'web UI': run.webUiUrl,
  });
}

/** `role=id` pairs into connections by role. */
function collectPair(value: string, previous: Record<string, string> = {}): Record<string, string> {
  const match = /^([^=]+)=(.+)$/.exec(value);
  if (!match) throw new UsageError(`--connection ${value}: expected role=connection-id`);
  return { ...previous, [match[1]!]: match[2]! };
}

/** `name=value` options; a value that reads as JSON (a number, true, an object) is taken as such. */
function collectOption(value: string, previous: Record<string, unknown> = {}): Record<string, unknown> {
  const match = /^([^=]+)=(.*)$/.exec(value);
  if (!match) throw new UsageError(`--option ${value}: expected name=value`);
  let parsed: unknown = match[2]!;
  try {
    parsed = JSON.parse(match[2]!);
  } catch {
    // A plain string.
  }
  return { ...previous, [match[1]!]: parsed };
}

function optionsObject(json: string | undefined): Record<string, unknown> {
  if (json === undefined) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    throw new UsageError('--options: not JSON; expected an object such as {"pageSize": 100}');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw new UsageError('--options: expected a JSON object');
  return parsed as Record<string, unknown>;
}

const waitOptions = (command: Command) =>
  command
    .option('--timeout <seconds>', 'stop waiting after this long (exit 5); none by default', wholeNumber)
    .option('--interval <seconds>', 'how often progress is read', wholeNumber, 1);

const waitFor = (options: WaitOptions) => ({
  ...(options.timeout === undefined ? {} : { timeoutMs: options.timeout * 1000 }),
  intervalMs: Math.max(1, options.interval) * 1000,
});

function runIdOf(ctx: Context, args: Array<string | undefined>) {
  return { org: ctx.org(), env: ctx.env(), runId: args[0]! };
}

/** `tavio runs start|get|list|cancel|wait|progress|residency|logs`. */
export function registerRuns(program: Command, run: Runner): void {
  const runs = program.command('runs').description("an environment's integration runs");

  waitOptions(
    runs
      .command('start')
      .description('start a run; with --wait, follow its progress until it ends (exit code by outcome)')
      .requiredOption('--integration <name>', 'the integration (hris-employee-sync, ...)')
      .option('--connection <role=id>', 'a connection by role; repeat for each role', collectPair)
      .option('--options <json>', "the integration's options as a JSON object")
      .option('--option <name=value>', 'one option; repeatable; JSON values are parsed', collectOption)
      .option('--idempotency-key <key>', 'the same key returns the same run (a new UUID by default)')
      .option('--wait', 'follow the run until it ends'),
  ).action(
    run<
      WaitOptions & {
        integration: string;
        connection?: Record<string, string>;
        options?: string;
        option?: Record<string, unknown>;
        idempotencyKey?: string;
        wait?: boolean;
      }
    >(async (ctx, _args, options) => {
      const [org, env] = [ctx.org(), ctx.env()];
      const started = await ctx.client().createRun(org, env, {
        integration: options.integration,
        connections: options.connection ?? {},
        options: { ...optionsObject(options.options), ...options.option },
        idempotencyKey: options.idempotencyKey ?? randomUUID(),
      });
      if (!options.wait) return show(ctx, started, (r) => showRun(ctx, r));
      if (ctx.json) printJson(ctx, { type: 'started', ...started }, true);
      else
        ctx.stdout.write(
          `run ${started.id} started: ${started.integration} in ${started.namespace} on task queue ${started.taskQueue}\n`,
        );
      await waitAndReport(ctx, { org, env, runId: started.id }, waitFor(options));
    }),
  );

  runs
    .command('get')
    .description('a run: status, summary, failure')
    .argument('<run-id>', 'the run')
    .action(
      run(async (ctx, args) => {
        const { org, env, runId } = runIdOf(ctx, args);
        show(ctx, await ctx.client().getRun(org, env, runId), (r) => showRun(ctx, r));
      }),
    );

  runs
    .command('list')
    .description("the environment's runs, newest first")
    .option('--limit <count>', 'at most this many (50 by default, 200 at most)', wholeNumber)
    .action(
      run<{ limit?: number }>(async (ctx, _args, options) => {
        const list = await ctx.client().listRuns(ctx.org(), ctx.env(), options.limit);
        show(ctx, list, (rows) =>
          printTable(ctx, rows, {
            id: (r) => r.id,
            integration: (r) => r.integration,
            status: (r) => r.status,
            created: (r) => r.createdAt,
            closed: (r) => r.closedAt,
          }),
        );
      }),
    );

  runs
    .command('cancel')
    .description('request the cancellation of a run')
    .argument('<run-id>', 'the run')
    .action(
      run(async (ctx, args) => {
        const { org, env, runId } = runIdOf(ctx, args);
        const answer = await ctx.client().cancelRun(org, env, runId);
        show(ctx, answer, (r) =>
          ctx.stdout.write(
            r.status === 'running'
              ? `run ${r.id}: cancellation requested\n`
              : `run ${r.id} is already ${r.status}\n`,
          ),
        );
      }),
    );

  waitOptions(
    runs
      .command('wait')
      .description('follow a run until it ends (exit code by outcome)')
      .argument('<run-id>', 'the run'),
  ).action(
    run<WaitOptions>(async (ctx, args, options) => {
      await waitAndReport(ctx, runIdOf(ctx, args), waitFor(options));
    }),
  );

  runs
    .command('progress')
    .description("a run's counts and elapsed time, once")
    .argument('<run-id>', 'the run')
    .action(
      run(async (ctx, args) => {
        const { org, env, runId } = runIdOf(ctx, args);
        show(ctx, await ctx.client().getRunProgress(org, env, runId), (p) =>
          ctx.stdout.write(`${progressLine(p)}\n`),
        );
      }),
    );

  runs
    .command('residency')
    .description('where a run happened: region, queue, hosts, storage, key, egress by host')
    .argument('<run-id>', 'the run')
    .action(
      run(async (ctx, args) => {
        const { org, env, runId } = runIdOf(ctx, args);
        const residency = await ctx.client().getResidency(org, env, runId);
        show(ctx, residency, (r) =>
          printFields(ctx, {
            region: `${r.region} (gateway ${r.gateway}, task queue ${r.taskQueue})`,
            namespace: r.namespace,
            'worker hosts': r.workerHosts.join(', ') || '-',
            storage: `${r.storage.bucket} (${r.storage.awsRegion})`,
            key: r.key.arn ? `${r.key.arn} (${r.key.awsRegion})` : null,
            egress: r.egress ? `${r.egress.requests} requests: ${JSON.stringify(r.egress.hosts)}` : null,
            final: r.final,
          }),
        );
      }),
    );

  runs
    .command('logs')
    .description("a run's log, read from its region's data plane with a short-lived grant")
    .argument('<run-id>', 'the run')
    .option('--follow', 'keep reading until the run has ended')
    .addOption(new Option('--level <level>', 'the least level').choices(['debug', 'info', 'warn', 'error']))
    .option('--event <names>', 'only these events, comma-separated')
    .action(
      run<{ follow?: boolean; level?: 'debug' | 'info' | 'warn' | 'error'; event?: string }>(
        async (ctx, args, options) => {
          const { org, env, runId } = runIdOf(ctx, args);
          const records = ctx.client().tailRunLog(org, env, runId, {
            follow: options.follow ?? false,
            ...(options.level ? { level: options.level } : {}),
            ...(options.event ? { events: options.event.split(',') } : {}),
          });
          for await (const record of records) {
            if (ctx.json) printJson(ctx, record, true);
            else
              ctx.stdout.write(
                `${record.time} ${record.level.padEnd(5)} ${record.activity} ${record.event} ${JSON.stringify(record.fields)}\n`,
              );
          }
        },
      ),
    );
}
