import type { AppServices } from '../app.js';
import type { Config } from '../config/config.js';
import { PasswordHasher } from '../crypto/passwords.js';
import { randomPassword } from '../crypto/random.js';
import { SecretBox } from '../crypto/secret-box.js';
import { APP_ROLE, Database } from '../db/database.js';
import { SUPER_TENANT } from '../domain/tenants.js';
import { migrate } from '../db/migrate.js';
import { createServices } from './composition.js';
import { loadSecretKeys, openDatabase } from './resources.js';

/** Everything the server runs on, wired once; `close` releases it in reverse order. */
export interface Runtime {
  /** The requests' pool (as dcr_app). */
  db: Database;
  /** The upkeep's pool (the expired-token purge, revocation delivery), over the login role. */
  maintenance: Database;
  services: AppServices;
  /** Set when the super admin was created with a generated password (shown once, never logged). */
  generatedAdminPassword: string | undefined;
  /** A shutdown has begun (marks the data folder's lock, so that a restart waits for it). */
  beginShutdown(): Promise<void>;
  close(): Promise<void>;
  /** A forced exit: the embedded cluster is told to shut down by itself (synchronous). */
  abandon(): void;
}

export class StartupError extends Error {
  override name = 'StartupError';
}

/**
 * Starts the server's runtime: the database (src/runtime/resources.ts), the migrations, the
 * services (src/runtime/composition.ts), the first signing key and the super admin.
 */
export async function startRuntime(config: Config, log: (message: string) => void): Promise<Runtime> {
  // The login role's pool: migrations, then the cross-tenant upkeep (two connections are plenty).
  const opened = await openDatabase(config, { attach: false, poolSize: 2, log });
  let db: Database | undefined;
  try {
    const keys = await loadSecretKeys(config, (file) => log(`generated a new secret key in ${file} (owner-only); back it up with the data folder`));
    if (!keys) {
      throw new StartupError(
        'DCR_SECRET_KEY is required with DATABASE_URL: client secrets are encrypted with it, and every ' +
          'instance over the same database needs the same key (generate one with: openssl rand -base64 32)',
      );
    }
    // Before the services: nothing is served over a schema that is not current.
    const ran = await migrate(opened.db);
    if (ran.length > 0) log(`applied migrations: ${ran.join(', ')}`);
    // Every request's statements as dcr_app, a role held to row security (migration 012): a
    // statement that forgot its tenant sees nothing rather than everyone's rows.
    db = new Database({ connectionString: opened.connectionString, poolSize: config.dbPoolSize, timeoutMs: config.dbTimeoutMs, role: APP_ROLE });
    const services = createServices(config, {
      db,
      maintenance: opened.db,
      secrets: new SecretBox(keys.current, keys.previous, keys.reload),
      hasher: new PasswordHasher(),
    });
    await services.keys.ensureKey(SUPER_TENANT.id);
    const generatedAdminPassword = await services.users.bootstrapAdmin(
      config.adminPassword,
      // A generated password only for the zero-setup default; a real deployment must choose one.
      opened.embedded ? randomPassword : undefined,
    );
    const requests = db;
    return {
      db: requests,
      maintenance: opened.db,
      services,
      generatedAdminPassword,
      beginShutdown: async () => opened.embedded?.markStopping(),
      close: async () => {
        await requests.close().catch(() => {});
        await opened.close();
      },
      abandon: () => opened.embedded?.abandon(),
    };
  } catch (err) {
    await db?.close().catch(() => {});
    await opened.close();
    throw err;
  }
}
