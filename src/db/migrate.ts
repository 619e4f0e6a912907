import { fileURLToPath } from 'node:url';
import { runner } from 'node-pg-migrate';
import type { Database } from './database.js';

export const MIGRATIONS_DIR = fileURLToPath(new URL('./migrations', import.meta.url));

/**
 * Applies the pending numbered SQL migrations (src/db/migrations) with node-pg-migrate, in one
 * transaction. Its advisory lock makes concurrent start-ups of several instances wait for each
 * other instead of racing. Returns the names of the migrations it ran.
 */
export async function migrate(db: Database, log: (message: string) => void = () => {}): Promise<string[]> {
  const client = await db.connect();
  try {
    const ran = await runner({
      dbClient: client,
      dir: MIGRATIONS_DIR,
      direction: 'up',
      migrationsTable: 'pgmigrations',
      checkOrder: true,
      singleTransaction: true,
      advisoryLockMode: 'wait',
      log,
    });
    return ran.map((migration) => migration.name);
  } finally {
    client.release();
  }
}
