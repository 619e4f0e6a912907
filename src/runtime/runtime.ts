import fs from 'node:fs/promises';
import path from 'node:path';
import type { FastifyServerOptions } from 'fastify';
import type { AppServices } from '../app.js';
import type { Config } from '../config/config.js';
import { PasswordHasher } from '../crypto/passwords.js';
import { loadOrCreateKeyFile, loadPreviousKeys, readKeyFilesSync } from '../crypto/key-file.js';
import { randomPassword } from '../crypto/random.js';
import { SecretBox, type Keyring } from '../crypto/secret-box.js';
import { Database } from '../db/database.js';
import { startEmbeddedPostgres, type EmbeddedPostgresHandle } from '../embedded/cluster.js';
import { migrate } from '../db/migrate.js';
import type { Readiness } from '../http/handlers/health.js';
import { Metrics } from '../observability/metrics.js';
import { PgApplicationRepository } from '../repositories/applications.js';
import { PgSigningKeyRepository } from '../repositories/signing-keys.js';
import { PgTokenRepository } from '../repositories/tokens.js';
import { PgUserRepository } from '../repositories/users.js';
import type { AppManagePolicy } from '../domain/scopes.js';
import { Authenticator } from '../services/user-authentication.js';
import { ClientCache } from '../cache/client-cache.js';
import { CredentialCache } from '../cache/credential-cache.js';
import { LoginThrottle } from '../services/login-throttle.js';
import { OAuthService } from '../services/oauth.js';
import { RegistrationService } from '../services/registration.js';
import { KeyStore } from '../services/signing-keys.js';
import { TokenPurger } from '../services/token-purge.js';
import { TokenService } from '../services/tokens.js';
import { UserService } from '../services/users.js';

/** Everything the server runs on, wired once; `close` releases it in reverse order. */
export interface Runtime {
  db: Database;
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

type Log = (message: string) => void;

export type ServiceConfig = Pick<
  Config,
  | 'adminUser'
  | 'allowedGrantTypes'
  | 'issuer'
  | 'accessTokenTtlSeconds'
  | 'refreshTokenTtlSeconds'
  | 'appManageUsers'
  | 'appTokensManageApps'
  | 'authCacheTtlSeconds'
  | 'tokenCommit'
  | 'loginThrottle'
>;

/** The repositories and services over one database, as the app and the tests use them. */
export function createServices(
  db: Database,
  secrets: SecretBox,
  config: ServiceConfig,
  hasher = new PasswordHasher(),
  readiness?: Readiness,
): AppServices {
  const users = new PgUserRepository(db);
  const apps = new PgApplicationRepository(db, secrets);
  const throttle = new LoginThrottle({
    windowMs: config.loginThrottle.windowSeconds * 1000,
    maxFailures: config.loginThrottle.maxFailures,
    maxFailuresPerAddress: config.loginThrottle.maxFailuresPerAddress,
  });
  const base = config.appManageUsers ? { anyone: false as const, users: new Set(config.appManageUsers) } : { anyone: true as const };
  const policy: AppManagePolicy = { ...base, applicationTokens: config.appTokensManageApps };
  const auth = new Authenticator(users, hasher, config.adminUser, new CredentialCache(config.authCacheTtlSeconds * 1000), throttle, policy);
  const keys = new KeyStore(new PgSigningKeyRepository(db), secrets, config.accessTokenTtlSeconds);
  const tokens = new TokenService(new PgTokenRepository(db, { asyncCommit: config.tokenCommit === 'async' }), keys, {
    issuer: config.issuer,
    accessTtlSeconds: config.accessTokenTtlSeconds,
    refreshTtlSeconds: config.refreshTokenTtlSeconds,
  });
  auth.useTokens(tokens);
  return {
    auth,
    registration: new RegistrationService(apps, users, config.allowedGrantTypes),
    users: new UserService(users, hasher, config.adminUser),
    oauth: new OAuthService(apps, auth, tokens, policy, new ClientCache(config.authCacheTtlSeconds * 1000)),
    keys,
    readiness: readiness ?? databaseReadiness(db, () => true),
    metrics: new Metrics(db.pool),
    issuer: config.issuer,
  };
}

/**
 * The background deletion of unusable tokens (src/services/token-purge.ts), reporting to the
 * metrics and to `log`; started by the caller once the server listens.
 */
export function createTokenPurger(
  db: Database,
  config: Pick<Config, 'tokenPurgeIntervalSeconds'>,
  metrics: Metrics,
  log: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void },
): TokenPurger {
  return new TokenPurger(new PgTokenRepository(db), {
    intervalMs: config.tokenPurgeIntervalSeconds * 1000,
    onPurged: (purged) => {
      metrics.tokensPurged(purged);
      log.info({ purged }, 'deleted expired tokens');
    },
    onError: (err) => log.warn({ err }, 'could not delete expired tokens; trying again at the next interval'),
  });
}

/** Ready once migrations ran and the database answers a query within its timeout. */
export function databaseReadiness(db: Database, migrated: () => boolean): Readiness {
  return {
    async check() {
      const failing: Record<string, string> = {};
      if (!migrated()) failing.migrations = 'PENDING';
      try {
        await db.ping();
      } catch {
        failing.database = 'DOWN';
      }
      return Object.keys(failing).length === 0 ? { ready: true } : { ready: false, failing };
    },
  };
}

/**
 * Starts the database (external via DATABASE_URL, or embedded in DCR_DATA_DIR), runs the
 * migrations, loads the secret key and bootstraps the super admin.
 */
export async function startRuntime(config: Config, log: Log): Promise<Runtime> {
  let embedded: EmbeddedPostgresHandle | undefined;
  let secretKey = config.secretKey;
  let previousKeys = config.previousSecretKeys;
  let reloadKeys: (() => Keyring | undefined) | undefined;
  let connectionString = config.databaseUrl;

  if (connectionString === undefined) {
    embedded = await startEmbeddedPostgres({ dataDir: config.dataDir, log });
    connectionString = embedded.connectionString;
    if (!secretKey) {
      const keyFile = path.join(config.dataDir, 'secret.key');
      const loaded = await loadOrCreateKeyFile(keyFile);
      if (loaded.created) log(`generated a new secret key in ${keyFile} (owner-only); back it up with the data folder`);
      secretKey = loaded.key;
      // The keys `dcr secrets rotate-key` replaced, and a re-read of both files when an envelope
      // names a key not loaded yet (a rotation done while this server runs).
      previousKeys = [...previousKeys, ...(await loadPreviousKeys(keyFile))];
      reloadKeys = () => {
        const ring = readKeyFilesSync(keyFile);
        return ring && { current: ring.current, previous: [...ring.previous, ...config.previousSecretKeys] };
      };
    }
  } else if (!secretKey) {
    throw new StartupError(
      'DCR_SECRET_KEY is required with DATABASE_URL: client secrets are encrypted with it, and every ' +
        'instance over the same database needs the same key (generate one with: openssl rand -base64 32)',
    );
  }

  const db = new Database({ connectionString, poolSize: config.dbPoolSize, timeoutMs: config.dbTimeoutMs });
  const close = async () => {
    await db.close().catch(() => {});
    await embedded?.stop();
  };
  try {
    let migrated = false;
    const ran = await migrate(db);
    migrated = true;
    if (ran.length > 0) log(`applied migrations: ${ran.join(', ')}`);
    const services = createServices(db, new SecretBox(secretKey, previousKeys, reloadKeys), config, new PasswordHasher(), databaseReadiness(db, () => migrated));
    await services.keys.ensureKey();
    const generatedAdminPassword = await services.users.bootstrapAdmin(
      config.adminPassword,
      // A generated password only for the zero-setup default; a real deployment must choose one.
      embedded ? randomPassword : undefined,
    );
    return {
      db,
      services,
      generatedAdminPassword,
      beginShutdown: async () => embedded?.markStopping(),
      close,
      abandon: () => embedded?.abandon(),
    };
  } catch (err) {
    await close();
    throw err;
  }
}

/** The PEM key pair for HTTPS, read once at start-up; a clear error names the unreadable file. */
export async function loadTls(config: Pick<Config, 'tls'>): Promise<{ key: Buffer; cert: Buffer } | undefined> {
  if (!config.tls) return undefined;
  const read = async (file: string, variable: string) => {
    try {
      return await fs.readFile(file);
    } catch (err) {
      throw new StartupError(`${variable}: cannot read ${file} (${(err as NodeJS.ErrnoException).code})`);
    }
  };
  return { cert: await read(config.tls.certFile, 'TLS_CERT_FILE'), key: await read(config.tls.keyFile, 'TLS_KEY_FILE') };
}

/** JSON lines (pino); human-readable through pino-pretty when writing to a terminal. */
export function loggerOptions(config: Pick<Config, 'logLevel'>, tty = process.stdout.isTTY === true): FastifyServerOptions['logger'] {
  return {
    level: config.logLevel,
    ...(tty ? { transport: { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' } } } : {}),
    // Belt and braces: the default serializers log no headers or bodies, but nothing that could
    // carry a credential may ever reach a log line, whatever a future log call passes in.
    redact: {
      paths: [
        'req.headers.authorization',
        'req.headers.cookie',
        'headers.authorization',
        '*.password',
        '*.clientSecret',
        '*.client_secret',
        '*.access_token',
        '*.refresh_token',
        'password',
        'clientSecret',
      ],
      censor: '[REDACTED]',
    },
  };
}
