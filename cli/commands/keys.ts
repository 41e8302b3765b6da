import { Option } from 'commander';
import type { Command } from 'commander';
import type { ApiKey, IssuedKey } from '../../control-api/client.js';
import { UsageError } from '../errors.js';
import type { Context } from '../context.js';
import { printJson, printTable, show } from '../output.js';
import { wholeNumber } from '../runner.js';
import type { Runner } from '../runner.js';
import { REGION_CODES } from '../../common/regions.js';

type Kind = ApiKey['kind'];

/** A new key: alone on stdout, so that a shell can capture it, and what it is on stderr. */
function showIssued(ctx: Context, issued: ApiKey & IssuedKey, what: string): void {
  if (ctx.json) return printJson(ctx, issued);
  ctx.stderr.write(`${what} ${issued.kind} key ${issued.prefix} (${issued.id}), shown this once:\n`);
  ctx.stdout.write(`${issued.key}\n`);
}

/** `--platform` keys (operator, region host) belong to no organization; the others to `--org`. */
const platformOption = () => new Option('--platform', 'an operator or region host key (operator key)');

/** `tavio keys create|list|rotate|revoke`. */
export function registerKeys(program: Command, run: Runner): void {
  const keys = program.command('keys').description('API keys of every kind; a new key is printed once');

  keys
    .command('create')
    .description(
      'issue a key: organization admin (--org), environment (--org --env), operator or region host',
    )
    .addOption(
      new Option(
        '--kind <kind>',
        'the kind of key (default: environment with --env, else organization)',
      ).choices(['organization', 'environment', 'operator', 'host']),
    )
    .addOption(new Option('--region <region>', "a host key's region").choices(REGION_CODES))
    .option('--expires-in-days <days>', 'its lifetime (none by default)', wholeNumber)
    .action(
      run<{ kind?: Kind; region?: 'us' | 'ca' | 'eu'; expiresInDays?: number }>(
        async (ctx, _args, options) => {
          const kind: Kind = options.kind ?? (ctx.config.env ? 'environment' : 'organization');
          const lifetime =
            options.expiresInDays === undefined ? {} : { expiresInDays: options.expiresInDays };
          const client = ctx.client();
          if (kind === 'organization')
            return showIssued(ctx, await client.createOrganizationKey(ctx.org(), lifetime), 'issued');
          if (kind === 'environment')
            return showIssued(
              ctx,
              await client.createEnvironmentKey(ctx.org(), ctx.env(), lifetime),
              'issued',
            );
          if (kind === 'operator') return showIssued(ctx, await client.createOperatorKey(lifetime), 'issued');
          if (!options.region) throw new UsageError(`a host key needs --region <${REGION_CODES.join('|')}>`);
          showIssued(ctx, await client.createHostKey(options.region, lifetime), 'issued');
        },
      ),
    );

  keys
    .command('list')
    .description(
      "the organization's admin and environment keys, or with --platform the operator and host keys",
    )
    .addOption(platformOption())
    .action(
      run<{ platform?: boolean }>(async (ctx, _args, options) => {
        const client = ctx.client();
        const list = options.platform ? await client.listPlatformKeys() : await client.listApiKeys(ctx.org());
        show(ctx, list, (rows) =>
          printTable(ctx, rows, {
            id: (k) => k.id,
            kind: (k) => k.kind,
            prefix: (k) => k.prefix,
            status: (k) => k.status,
            'last used': (k) => k.lastUsedAt,
            expires: (k) => k.expiresAt,
          }),
        );
      }),
    );

  keys
    .command('rotate')
    .description(
      'issue the successor of a key, printed once; the old key stops now or after --overlap-seconds',
    )
    .argument('<key-id>', 'the id of the key to rotate')
    .addOption(platformOption())
    .option('--overlap-seconds <seconds>', 'how long the old key keeps working (0 by default)', wholeNumber)
    .option('--expires-in-days <days>', "the new key's lifetime (the old key's by default)", wholeNumber)
    .action(
      run<{ platform?: boolean; overlapSeconds?: number; expiresInDays?: number }>(
        async (ctx, [id], options) => {
          const rotation = {
            ...(options.overlapSeconds === undefined ? {} : { overlapSeconds: options.overlapSeconds }),
            ...(options.expiresInDays === undefined ? {} : { expiresInDays: options.expiresInDays }),
          };
          const client = ctx.client();
          const successor = options.platform
            ? await client.rotatePlatformKey(id!, rotation)
            : await client.rotateApiKey(ctx.org(), id!, rotation);
          showIssued(ctx, successor, `key ${id} rotated; its successor,`);
        },
      ),
    );

  keys
    .command('revoke')
    .description('revoke a key: it answers 401 from now on')
    .argument('<key-id>', 'the id of the key to revoke')
    .addOption(platformOption())
    .action(
      run<{ platform?: boolean }>(async (ctx, [id], options) => {
        const client = ctx.client();
        const revoked = options.platform
          ? await client.revokePlatformKey(id!)
          : await client.revokeApiKey(ctx.org(), id!);
        show(ctx, revoked, (key) => ctx.stdout.write(`key ${key.prefix} (${key.id}) ${key.status}\n`));
      }),
    );
}
