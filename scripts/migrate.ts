/**
 * `npm run migrate`: applies pending migrations and exits, for deployments that migrate before
 * rolling out (the server also migrates at start-up; node-pg-migrate's lock makes both safe).
 * Uses DATABASE_URL, or the embedded cluster in DCR_DATA_DIR when it is unset (the running
 * server's, if one runs there). `dcr migrate` is the same command.
 */
import { loadConfig } from '../src/config/config.js';
import { migrate } from '../src/db/migrate.js';
import { openForTool } from '../src/runtime/resources.js';

const config = loadConfig(process.env);
const log = (message: string) => process.stderr.write(`[migrate] ${message}\n`);
const opened = await openForTool(config, { needSecretKey: false, log, applicationName: 'wso2-dcr-migrate' });
try {
  const ran = await migrate(opened.db, log);
  log(ran.length > 0 ? `applied ${ran.length}: ${ran.join(', ')}` : 'database is up to date');
} finally {
  await opened.close();
}
