import type { AppServices } from '../app.js';
import type { ApimNotifyConfig, Config } from '../config/config.js';
import { PasswordHasher } from '../crypto/passwords.js';
import type { SecretBox } from '../crypto/secret-box.js';
import type { Database } from '../db/database.js';
import type { AppManagePolicy } from '../domain/scopes.js';
import { tenantIssuer } from '../domain/tenants.js';
import type { Readiness } from '../http/handlers/health.js';
import { Metrics } from '../observability/metrics.js';
import { PgApiResourceRepository } from '../repositories/api-resources.js';
import { PgApplicationRepository } from '../repositories/applications.js';
import { PgRoleRepository } from '../repositories/roles.js';
import { PgRevocationOutbox } from '../repositories/revocation-outbox.js';
import { PgScopeBindingRepository } from '../repositories/scope-bindings.js';
import { PgSigningKeyRepository } from '../repositories/signing-keys.js';
import { PgTenantRepository } from '../repositories/tenants.js';
import { PgTokenRepository } from '../repositories/tokens.js';
import { PgUserRepository } from '../repositories/users.js';
import { ClientCache } from '../cache/client-cache.js';
import { CredentialCache } from '../cache/credential-cache.js';
import { ApiResourceService } from '../services/api-resources.js';
import { ClientAuthentication } from '../services/client-authentication.js';
import { IsDcrService } from '../services/is-dcr.js';
import { LoginThrottle } from '../services/login-throttle.js';
import { RegistrationService } from '../services/registration.js';
import { urlLabel } from '../domain/revocation-events.js';
import { httpSender, RevocationDispatcher, type DispatcherLog, type Sender } from '../services/revocation-dispatcher.js';
import { RoleService } from '../services/roles.js';
import { KeyStore, type KeyPairGenerator } from '../services/signing-keys.js';
import { TenantDirectory } from '../services/tenant-directory.js';
import { TokenIntrospection } from '../services/token-introspection.js';
import { TokenIssuance } from '../services/token-issuance.js';
import { TokenPurger, type TokenPurgeOptions } from '../services/token-purge.js';
import { TokenService } from '../services/tokens.js';
import { TenantService } from '../services/tenants.js';
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
  | 'publicUrl'
  | 'jwtAlg'
  | 'accessTokenTtlSeconds'
  | 'refreshTokenTtlSeconds'
  | 'appManageUsers'
  | 'appTokensManageApps'
  | 'authCacheTtlSeconds'
  | 'tokenCommit'
  | 'loginThrottle'
  | 'apimNotify'
>;

export interface ServiceResources {
  /** What requests run on: connections as dcr_app, held to row security (migration 012). */
  db: Database;
  /**
   * The cross-tenant upkeep's connections (the expired-token purge, revocation delivery, the
   * statistics of young tables): the login role that migrates, a member of dcr_maintenance.
   * By default `db` (tests and tools whose one connection is the owner's).
   */
  maintenance?: Database;
  secrets: SecretBox;
  /** The password KDF; tests pass a cheaper one. */
  hasher?: PasswordHasher;
  /** How new signing keys' pairs are made; tests pass one that reuses pairs (RSA key generation costs ~0.2 s). */
  newKeyPair?: KeyPairGenerator;
  /** What /health/ready reports; by default, whether the database answers. */
  readiness?: Readiness;
  /** How revocation events are POSTed; by default over HTTP (httpSender). */
  notifySender?: Sender;
}

/** Who may hold apim:dcr:app_manage (DCR_APP_MANAGE_USERS, DCR_APP_TOKENS_MANAGE_APPS). */
function appManagePolicy(config: ServiceConfig): AppManagePolicy {
  const base = config.appManageUsers ? { anyone: false as const, users: new Set(config.appManageUsers) } : { anyone: true as const };
  return { ...base, applicationTokens: config.appTokensManageApps };
}

export function createServices(config: ServiceConfig, resources: ServiceResources): AppServices {
  const { db, secrets, hasher = new PasswordHasher() } = resources;
  const maintenance = resources.maintenance ?? db;
  const cacheTtlMs = config.authCacheTtlSeconds * 1000;
  const policy = appManagePolicy(config);

  const users = new PgUserRepository(db);
  const apps = new PgApplicationRepository(db, secrets, maintenance);
  const keys = new KeyStore(new PgSigningKeyRepository(db, maintenance), secrets, config.jwtAlg, config.accessTokenTtlSeconds, resources.newKeyPair);
  const metrics = new Metrics(db.pool);
  const revocationEvents =
    config.apimNotify && revocationDispatcher(config.apimNotify, config.accessTokenTtlSeconds, maintenance, metrics, resources.notifySender);
  const tokenRepository = new PgTokenRepository(db, { asyncCommit: config.tokenCommit === 'async', revocationEvents: revocationEvents !== undefined });
  const tokens = new TokenService(tokenRepository, keys, {
    issuerOf: (tenant) => tenantIssuer(tenant, config.issuer, config.publicUrl),
    accessTtlSeconds: config.accessTokenTtlSeconds,
    refreshTtlSeconds: config.refreshTokenTtlSeconds,
  });
  const throttle = new LoginThrottle({
    windowMs: config.loginThrottle.windowSeconds * 1000,
    maxFailures: config.loginThrottle.maxFailures,
    maxFailuresPerAddress: config.loginThrottle.maxFailuresPerAddress,
  });
  const tenantRepository = new PgTenantRepository(db);
  const tenants = new TenantDirectory(tenantRepository);
  const auth = new Authenticator(users, hasher, config.adminUser, tokens, new CredentialCache(cacheTtlMs), throttle, policy, tenants);
  const clients = new ClientAuthentication(apps, new ClientCache(cacheTtlMs));
  return {
    auth,
    clients,
    registration: new RegistrationService(apps, users, config.allowedGrantTypes),
    users: new UserService(users, hasher, config.adminUser, tenants),
    roles: new RoleService(new PgRoleRepository(db), policy),
    tokenIssuance: new TokenIssuance(clients, auth, tokens, policy, new PgScopeBindingRepository(db), tenants),
    introspection: new TokenIntrospection(clients, auth, tokens, policy, tenants),
    keys,
    readiness: withRevocationHealth(resources.readiness ?? databaseReadiness(db, () => true), revocationEvents),
    metrics,
    revocationEvents,
    apiResources: new ApiResourceService(new PgApiResourceRepository(db), policy),
    isDcr: new IsDcrService(apps, users, config.allowedGrantTypes, {
      accessTtlSeconds: config.accessTokenTtlSeconds,
      refreshTtlSeconds: config.refreshTokenTtlSeconds,
    }, clients),
    tenantRegistry: new TenantService(tenantRepository, hasher, tenants),
    issuer: config.issuer,
    tenants,
  };
}

/**
 * The delivery of revocation events to API Manager (DCR_APIM_NOTIFY_*), its queue's figures in the
 * metrics. Built only with a notify URL: without one nothing queues events and nothing delivers.
 */
function revocationDispatcher(notify: ApimNotifyConfig, accessTokenTtlSeconds: number, db: Database, metrics: Metrics, sender?: Sender): RevocationDispatcher {
  const dispatcher = new RevocationDispatcher(
    new PgRevocationOutbox(db),
    sender ?? httpSender(notify.credentials, notify.timeoutMs),
    { ...notify, accessTokenTtlSeconds },
    metrics,
  );
  metrics.revocationQueue(() => dispatcher.queueStats());
  return dispatcher;
}

/**
 * A server without DCR_APIM_NOTIFY_URL: nothing is queued for API Manager from now on, and events
 * an earlier configuration left waiting are dropped (logged): with no URL there is no one to
 * deliver them.
 */
export async function stopQueueingRevocationEvents(db: Database, log: Pick<DispatcherLog, 'warn'>): Promise<void> {
  const dropped = await new PgRevocationOutbox(db).syncTargets([]);
  for (const [target, count] of dropped) {
    log.warn({ url: urlLabel(target), dropped: count }, 'DCR_APIM_NOTIFY_URL is unset: dropped the revocation events still waiting for delivery');
  }
}

/** /health/ready's answer, with the revocation events' detail when they are pushed. */
function withRevocationHealth(readiness: Readiness, dispatcher: RevocationDispatcher | undefined): Readiness {
  if (!dispatcher) return readiness;
  return {
    async check() {
      const result = await readiness.check();
      return result.ready ? { ...result, revocationEvents: dispatcher.health() } : result;
    },
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
