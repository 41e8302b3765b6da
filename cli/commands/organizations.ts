import type { Command } from 'commander';
import { printFields, printJson } from '../output.js';
import type { Runner } from '../runner.js';

/** `tavio organizations create|quotas`. */
export function registerOrganizations(program: Command, run: Runner): void {
  const organizations = program
    .command('organizations')
    .alias('orgs')
    .description('organizations (operator key)');

  organizations
    .command('create')
    .description('create an organization and its first admin key, printed once')
    .argument('<slug>', 'the organization slug')
    .option('--name <name>', 'a display name (the slug by default)')
    .action(
      run<{ name?: string }>(async (ctx, [slug], options) => {
        const created = await ctx.client().createOrganization(slug!, options.name);
        if (ctx.json) return printJson(ctx, created);
        const { organization, apiKey } = created;
        // The key alone on stdout, so that a shell can capture it; what it is, on stderr.
        ctx.stderr.write(
          `organization ${organization.slug} (${organization.id}) created; its admin key ${apiKey.prefix}, shown this once:\n`,
        );
        ctx.stdout.write(`${apiKey.key}\n`);
      }),
    );

  organizations
    .command('quotas')
    .description("an organization's quotas and usage")
    .action(
      run(async (ctx) => {
        const quotas = await ctx.client().getQuotas(ctx.org());
        if (ctx.json) return printJson(ctx, quotas);
        printFields(
          ctx,
          Object.fromEntries(
            Object.entries(quotas.quotas).map(([name, limit]) => [
              name,
              `${limit}${name in quotas.overrides ? ' (set by the operator)' : ''}`,
            ]),
          ),
        );
        printFields(ctx, { usage: quotas.usage });
      }),
    );
}
