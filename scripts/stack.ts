import { StackError, stackDown, stackStatus, stackUp, type ServiceStatus } from './stack/services.js';

const USAGE = 'usage: npm run stack -- up | down [--purge] | status';

async function main(argv: readonly string[]): Promise<number> {
  const [command, ...flags] = argv;
  switch (command) {
    case 'up': {
      // Secret keys and passwords stay in .stack/aws-identities.json and .stack/postgres-credentials.json:
      // the summary names access key ids and database roles only.
      const { awsIdentities, databaseUrl, databaseMigrationUrl, databaseAdminUrl, ...info } = await stackUp();
      const hosts = Object.fromEntries(
        Object.entries(awsIdentities.hosts).map(([gw, key]) => [gw, key.accessKeyId]),
      );
      console.log(
        JSON.stringify({
          ...info,
          databaseUrl: withoutPassword(databaseUrl),
          databaseMigrationUrl: withoutPassword(databaseMigrationUrl),
          databaseAdminUrl: withoutPassword(databaseAdminUrl),
          awsAccessKeyIds: { controlPlane: awsIdentities.controlPlane.accessKeyId, hosts },
        }),
      );
      return 0;
    }
    case 'down':
      await stackDown({ purge: flags.includes('--purge') });
      return 0;
    case 'status': {
      const statuses = await stackStatus();
      printStatus(statuses);
      return statuses.every((status) => status.up) ? 0 : 3;
    }
    default:
      console.error(USAGE);
      return 2;
  }
}

function withoutPassword(url: string): string {
  const parsed = new URL(url);
  parsed.password = '';
  return parsed.toString();
}

function printStatus(statuses: readonly ServiceStatus[]): void {
  const rows = statuses.map((s) => [
    s.name,
    s.up ? 'up' : 'down',
    s.pid === undefined ? 'pid -' : `pid ${s.pid}`,
    s.url,
  ]);
  const widths = [0, 1, 2].map((column) => Math.max(...rows.map((row) => row[column]?.length ?? 0)));
  for (const row of rows) {
    console.log(
      row
        .map((cell, column) => cell.padEnd(widths[column] ?? 0))
        .join('  ')
        .trimEnd(),
    );
  }
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (error) {
  if (!(error instanceof StackError)) throw error;
  console.error(`\nstack: FAILED\n${error.message}`);
  process.exitCode = 1;
}
