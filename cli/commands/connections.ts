import { Option } from 'commander';
import type { Command } from 'commander';
import { CONNECTION_KINDS } from '../../common/connections.js';
import type { ConnectionKind } from '../../common/connections.js';
import type { Connection } from '../../control-api/client.js';
import type { Output } from '../output.js';
import { printFields, printTable, show } from '../output.js';
import type { Runner } from '../runner.js';
import { readCredentials } from '../secrets.js';

const CREDENTIALS_FILE = [
  '--credentials-file <path>',
  'a JSON object of the credentials ("-": stdin, the default when stdin is not a terminal)',
] as const;

function showConnection(out: Output, connection: Connection): void {
  printFields(out, {
    connection: connection.id,
    name: connection.name,
    kind: connection.kind,
    'base URL': connection.baseUrl,
    'credentials version': connection.credentialsVersion,
    created: connection.createdAt,
  });
}

/** `tavio connections create|list|rotate-credentials`: credentials from stdin or a file, never argv. */
export function registerConnections(program: Command, run: Runner): void {
  const connections = program
    .command('connections')
    .description("an environment's connections; credentials are write-only");

  connections
    .command('create')
    .description('create a connection; its credentials are read from stdin or --credentials-file')
    .requiredOption('--name <name>', 'its name in the environment')
    .addOption(new Option('--kind <kind>', 'its kind').choices(CONNECTION_KINDS).makeOptionMandatory())
    .requiredOption('--base-url <url>', 'the system it reaches (no credentials in it)')
    .option(...CREDENTIALS_FILE)
    .action(
      run<{ name: string; kind: ConnectionKind; baseUrl: string; credentialsFile?: string }>(
        async (ctx, _args, options) => {
          const org = ctx.org();
          const env = ctx.env();
          const credentials = await readCredentials(options.credentialsFile, ctx.io.stdin);
          const connection = await ctx.client().createConnection(org, env, {
            name: options.name,
            kind: options.kind,
            baseUrl: options.baseUrl,
            credentials,
          });
          show(ctx, connection, (c) => showConnection(ctx, c));
        },
      ),
    );

  connections
    .command('list')
    .description("the environment's connections (never their credentials)")
    .action(
      run(async (ctx) => {
        const list = await ctx.client().listConnections(ctx.org(), ctx.env());
        show(ctx, list, (rows) =>
          printTable(ctx, rows, {
            id: (c) => c.id,
            name: (c) => c.name,
            kind: (c) => c.kind,
            'base url': (c) => c.baseUrl,
            credentials: (c) => `v${c.credentialsVersion}`,
          }),
        );
      }),
    );

  connections
    .command('rotate-credentials')
    .description("replace a connection's credentials, read from stdin or --credentials-file")
    .argument('<connection-id>', 'the connection')
    .option(...CREDENTIALS_FILE)
    .action(
      run<{ credentialsFile?: string }>(async (ctx, [id], options) => {
        const org = ctx.org();
        const env = ctx.env();
        const credentials = await readCredentials(options.credentialsFile, ctx.io.stdin);
        const connection = await ctx.client().rotateCredentials(org, env, id!, credentials);
        show(ctx, connection, (c) => showConnection(ctx, c));
      }),
    );
}
