import { loadMigrationConfig } from '../common/config.js';
import { migrateDatabase } from '../db/client.js';

/**
 * `npm run migrate`: applies the committed migrations to the control database
 * (`TAVIO_DATABASE_MIGRATION_URL`, else `TAVIO_DATABASE_URL`) and exits. Processes that migrate at
 * once take turns under an advisory lock, so a deployment may run it beside starting control APIs.
 * It needs the database's URL only: no Temporal, AWS or API setting.
 */
const config = loadMigrationConfig(process.env);
process.stderr.write(
  'migrate: applying the committed migrations (waits while another process applies them)\n',
);
await migrateDatabase(config.databaseMigrationUrl);
process.stderr.write('migrate: the control database is up to date\n');
