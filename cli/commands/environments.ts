import { Option } from 'commander';
import type { Command } from 'commander';
import type { Environment } from '../../control-api/client.js';
import { UsageError } from '../errors.js';
import { printFields, printJson, printTable, show } from '../output.js';
import type { Output } from '../output.js';
import type { Runner } from '../runner.js';
import { REGION_CODES } from '../../common/regions.js';

function showEnvironment(out: Output, environment: Environment): void {
  printFields(out, {
    environment: environment.slug,
    organization: environment.organization,
    id: environment.id,
    status: environment.statusReason
      ? `${environment.status} (${environment.statusReason})`
      : environment.status,
    region: `${environment.region} (task queue ${environment.taskQueue}, ${environment.awsRegion})`,
    namespace: environment.namespace,
    bucket: environment.bucket,
    key: environment.keyArn,
    created: environment.createdAt,
  });
}

/** `tavio environments create|list|get|retire`. */
export function registerEnvironments(program: Command, run: Runner): void {
  const environments = program
    .command('environments')
    .alias('envs')
    .description("an organization's environments");

  environments
    .command('create')
    .description('create and provision an environment, pinned to its region for good')
    .argument('[slug]', 'the environment slug (default: --env)')
    .addOption(new Option('--region <region>', 'its region').choices(REGION_CODES).makeOptionMandatory())
    .action(
      run<{ region: 'us' | 'ca' | 'eu' }>(async (ctx, [slug], options) => {
        const environment = await ctx.client().createEnvironment(ctx.org(), ctx.env(slug), options.region);
        show(ctx, environment, (e) => showEnvironment(ctx, e));
      }),
    );

  environments
    .command('list')
    .description("the organization's environments")
    .action(
      run(async (ctx) => {
        const { environments: list } = await ctx.client().listEnvironments(ctx.org());
        show(ctx, list, (rows) =>
          printTable(ctx, rows, {
            slug: (e) => e.slug,
            region: (e) => e.region,
            status: (e) => e.status,
            namespace: (e) => e.namespace,
            created: (e) => e.createdAt,
          }),
        );
      }),
    );

  environments
    .command('get')
    .description('one environment')
    .argument('[slug]', 'the environment slug (default: --env)')
    .action(
      run(async (ctx, [slug]) => {
        const environment = await ctx.client().getEnvironment(ctx.org(), ctx.env(slug));
        show(ctx, environment, (e) => showEnvironment(ctx, e));
      }),
    );

  environments
    .command('retire')
    .description('retire an environment: its keys, runs, bucket, KMS key, role and namespace are destroyed')
    .argument('[slug]', 'the environment slug (default: --env)')
    .option('--yes', 'confirm: retirement cannot be undone')
    .action(
      run<{ yes?: boolean }>(async (ctx, [slug], options) => {
        const env = ctx.env(slug);
        if (!options.yes)
          throw new UsageError(
            `retiring ${ctx.org()}/${env} destroys its data and cannot be undone: add --yes`,
          );
        const retired = await ctx.client().retireEnvironment(ctx.org(), env);
        if (ctx.json) return printJson(ctx, retired);
        showEnvironment(ctx, retired.environment);
        ctx.stdout.write('receipt:\n');
        printFields(ctx, retired.receipt as unknown as Record<string, unknown>);
      }),
    );
}
