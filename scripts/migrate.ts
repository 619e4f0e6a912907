/**
 * `npm run migrate`: applies pending migrations and exits, for deployments that migrate before
 * rolling out (the server also migrates at start-up; node-pg-migrate's lock makes both safe).
 * Uses DATABASE_URL, or the embedded cluster in DCR_DATA_DIR when it is unset.
 */
import { loadConfig } from '../src/config.js';
import { Database } from '../src/db/database.js';
import { startEmbeddedPostgres } from '../src/db/embedded.js';
import { migrate } from '../src/db/migrate.js';

const config = loadConfig(process.env);
const log = (message: string) => process.stderr.write(`[migrate] ${message}\n`);
const embedded = config.databaseUrl ? undefined : await startEmbeddedPostgres({ dataDir: config.dataDir, log });
const db = new Database({
  connectionString: config.databaseUrl ?? embedded!.connectionString,
  poolSize: 1,
  timeoutMs: config.dbTimeoutMs,
});
try {
  const ran = await migrate(db, log);
  log(ran.length > 0 ? `applied ${ran.length}: ${ran.join(', ')}` : 'database is up to date');
} finally {
  await db.close();
  await embedded?.stop();
}
