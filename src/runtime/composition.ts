import type { AppServices } from '../app.js';
import type { Config } from '../config/config.js';
import { PasswordHasher } from '../crypto/passwords.js';
import type { SecretBox } from '../crypto/secret-box.js';
import type { Database } from '../db/database.js';
import type { AppManagePolicy } from '../domain/scopes.js';
import type { Readiness } from '../http/handlers/health.js';
import { Metrics } from '../observability/metrics.js';
import { PgApiResourceRepository } from '../repositories/api-resources.js';
import { PgApplicationRepository } from '../repositories/applications.js';
import { PgRoleRepository } from '../repositories/roles.js';
import { PgScopeBindingRepository } from '../repositories/scope-bindings.js';
import { PgSigningKeyRepository } from '../repositories/signing-keys.js';
import { PgTokenRepository } from '../repositories/tokens.js';
import { PgUserRepository } from '../repositories/users.js';
import { ClientCache } from '../cache/client-cache.js';
import { CredentialCache } from '../cache/credential-cache.js';
import { ApiResourceService } from '../services/api-resources.js';
import { ClientAuthentication } from '../services/client-authentication.js';
import { IsDcrService } from '../services/is-dcr.js';
import { LoginThrottle } from '../services/login-throttle.js';
import { RegistrationService } from '../services/registration.js';
import { RoleService } from '../services/roles.js';
import { KeyStore, type KeyPairGenerator } from '../services/signing-keys.js';
import { TokenIntrospection } from '../services/token-introspection.js';
import { TokenIssuance } from '../services/token-issuance.js';
import { TokenPurger, type TokenPurgeOptions } from '../services/token-purge.js';
import { TokenService } from '../services/tokens.js';
import { Authenticator } from '../services/user-authentication.js';
import { UserService } from '../services/users.js';

/**
 * The composition root: the one place that knows which implementation each service gets. The
 * server (runtime.ts), the `dcr` CLI and the tests all build their services here, each over the
 * database and secret key they opened; every class takes its collaborators in its constructor.
 */

export type ServiceConfig = Pick<
  Config,
  | 'adminUser'
  | 'allowedGrantTypes'
  | 'issuer'
  | 'jwtAlg'
  | 'accessTokenTtlSeconds'
  | 'refreshTokenTtlSeconds'
  | 'appManageUsers'
  | 'appTokensManageApps'
  | 'authCacheTtlSeconds'
  | 'tokenCommit'
  | 'loginThrottle'
>;

export interface ServiceResources {
  db: Database;
  secrets: SecretBox;
  /** The password KDF; tests pass a cheaper one. */
  hasher?: PasswordHasher;
  /** How new signing keys' pairs are made; tests pass one that reuses pairs (RSA key generation costs ~0.2 s). */
  newKeyPair?: KeyPairGenerator;
  /** What /health/ready reports; by default, whether the database answers. */
  readiness?: Readiness;
}

/** Who may hold apim:dcr:app_manage (DCR_APP_MANAGE_USERS, DCR_APP_TOKENS_MANAGE_APPS). */
function appManagePolicy(config: ServiceConfig): AppManagePolicy {
  const base = config.appManageUsers ? { anyone: false as const, users: new Set(config.appManageUsers) } : { anyone: true as const };
  return { ...base, applicationTokens: config.appTokensManageApps };
}

export function createServices(config: ServiceConfig, resources: ServiceResources): AppServices {
  const { db, secrets, hasher = new PasswordHasher() } = resources;
  const cacheTtlMs = config.authCacheTtlSeconds * 1000;
  const policy = appManagePolicy(config);

  const users = new PgUserRepository(db);
  const apps = new PgApplicationRepository(db, secrets);
  const keys = new KeyStore(new PgSigningKeyRepository(db), secrets, config.jwtAlg, config.accessTokenTtlSeconds, resources.newKeyPair);
  const tokens = new TokenService(new PgTokenRepository(db, { asyncCommit: config.tokenCommit === 'async' }), keys, {
    issuer: config.issuer,
    accessTtlSeconds: config.accessTokenTtlSeconds,
    refreshTtlSeconds: config.refreshTokenTtlSeconds,
  });
  const throttle = new LoginThrottle({
    windowMs: config.loginThrottle.windowSeconds * 1000,
    maxFailures: config.loginThrottle.maxFailures,
    maxFailuresPerAddress: config.loginThrottle.maxFailuresPerAddress,
  });
  const auth = new Authenticator(users, hasher, config.adminUser, tokens, new CredentialCache(cacheTtlMs), throttle, policy);
  const clients = new ClientAuthentication(apps, new ClientCache(cacheTtlMs));
  return {
    auth,
    clients,
    registration: new RegistrationService(apps, users, config.allowedGrantTypes),
    users: new UserService(users, hasher, config.adminUser),
    roles: new RoleService(new PgRoleRepository(db), policy),
    tokenIssuance: new TokenIssuance(clients, auth, tokens, policy, new PgScopeBindingRepository(db)),
    introspection: new TokenIntrospection(clients, auth, tokens, policy),
    keys,
    readiness: resources.readiness ?? databaseReadiness(db, () => true),
    metrics: new Metrics(db.pool),
    apiResources: new ApiResourceService(new PgApiResourceRepository(db), policy),
    isDcr: new IsDcrService(apps, users, config.allowedGrantTypes, {
      accessTtlSeconds: config.accessTokenTtlSeconds,
      refreshTtlSeconds: config.refreshTokenTtlSeconds,
    }, clients),
    issuer: config.issuer,
  };
}

/** The deletion of unusable tokens (src/services/token-purge.ts); the caller chooses its schedule and reporting. */
export function createTokenPurger(db: Database, options: TokenPurgeOptions): TokenPurger {
  return new TokenPurger(new PgTokenRepository(db), options);
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
