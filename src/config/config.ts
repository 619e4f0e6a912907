import { isIP } from 'node:net';
import path from 'node:path';
import envSchema from 'env-schema';
import { DEFAULT_ALLOWED_GRANT_TYPES } from '../domain/registration-rules.js';
import type { SigningAlg } from '../crypto/jws.js';
import { ConfigError } from './config-error.js';
import { previousSecretKeysSetting, secretKeySetting } from './secret-keys.js';
import { SETTING_NAMES, SETTINGS_SCHEMA } from './settings.js';

/**
 * Every setting of the server, parsed and validated once at start-up from the environment its entry
 * point (server.ts, the CLI, a script) passes in: the code below gets a Config, never process.env,
 * so tests run it with any settings. What each variable means is in settings.ts.
 */
export interface Config {
  port: number;
  host: string;
  /** An external PostgreSQL; when absent, an embedded Postgres runs in `dataDir`. */
  databaseUrl: string | undefined;
  dataDir: string;
  /** 32 bytes, given as base64/base64url (44/43 chars) or hex (64 chars). */
  secretKey: Buffer | undefined;
  /** Older keys (DCR_SECRET_KEY_PREVIOUS): they open envelopes sealed before a key rotation, never seal. */
  previousSecretKeys: Buffer[];
  adminUser: string;
  adminPassword: string | undefined;
  bodyLimit: number;
  allowedGrantTypes: readonly string[];
  logLevel: string;
  dbPoolSize: number;
  /** Upper bound for getting a connection and for one statement: a dead database answers 503 within it. */
  dbTimeoutMs: number;
  /**
   * The base URL clients reach this server at: every absolute URL the server writes (SCIM
   * `meta.location`, the documentation's `servers`) is built from it, never from a request's Host.
   */
  publicUrl: string;
  /** `iss` of JWTs and RFC 8414's issuer: by default `<publicUrl>/oauth2/token`, as WSO2 IS's. */
  issuer: string;
  /** The algorithm new signing keys are made for (RS256 unless DCR_JWT_ALG says otherwise). */
  jwtAlg: SigningAlg;
  /**
   * The proxies whose X-Forwarded-For is believed (addresses, CIDR ranges, or proxy-addr's
   * `loopback`/`linklocal`/`uniquelocal`); empty: none, the client address is the peer's.
   */
  trustProxy: readonly string[];
  /** Whether an application's own (client_credentials) token may carry apim:dcr:app_manage. */
  appTokensManageApps: boolean;
  accessTokenTtlSeconds: number;
  refreshTokenTtlSeconds: number;
  /** Who may be granted apim:dcr:app_manage: undefined for anyone (WSO2's default). */
  appManageUsers: readonly string[] | undefined;
  /** How long a verified Basic credential or client secret is remembered (0: never). */
  authCacheTtlSeconds: number;
  /**
   * How a client_credentials access token's INSERT commits: 'async' answers before PostgreSQL has
   * flushed it to disk (a database crash may lose the tokens of its last moments), 'sync' after.
   */
  tokenCommit: 'async' | 'sync';
  /** Seconds between two deletions of expired tokens; 0: never. */
  tokenPurgeIntervalSeconds: number;
  /** Failed-login throttling (src/services/login-throttle.ts); maxFailures 0 turns it off. */
  loginThrottle: { maxFailures: number; maxFailuresPerAddress: number; windowSeconds: number };
  /** Revocation events pushed to WSO2 API Manager; undefined when DCR_APIM_NOTIFY_URL is unset. */
  apimNotify: ApimNotifyConfig | undefined;
  metricsEnabled: boolean;
  /** PEM files: when both are set the server speaks HTTPS only. */
  tls: { certFile: string; keyFile: string } | undefined;
}

/** The DCR_APIM_NOTIFY_* settings (src/services/revocation-dispatcher.ts). */
export interface ApimNotifyConfig {
  /** Distinct http(s) URLs, without user info. */
  urls: readonly string[];
  /** Basic credentials, both or neither. */
  credentials: { user: string; password: string } | undefined;
  batchSize: number;
  pollIntervalMs: number;
  timeoutMs: number;
  retryMaxDelayMs: number;
  maxEvents: number;
  staleAfterSeconds: number;
}

/** What env-schema returns for SETTINGS_SCHEMA: the values typed, the defaults filled in. */
interface RawEnv {
  PORT?: number;
  HOST: string;
  DATABASE_URL?: string;
  DCR_DATA_DIR: string;
  DCR_SECRET_KEY?: string;
  DCR_SECRET_KEY_PREVIOUS?: string;
  DCR_ADMIN_USER: string;
  DCR_ADMIN_PASSWORD?: string;
  DCR_BODY_LIMIT: number;
  DCR_ALLOWED_GRANT_TYPES?: string;
  LOG_LEVEL: string;
  DCR_DB_POOL_SIZE: number;
  DCR_DB_TIMEOUT_MS: number;
  DCR_PUBLIC_URL?: string;
  DCR_ISSUER?: string;
  DCR_JWT_ALG: SigningAlg;
  DCR_TRUST_PROXY?: string;
  DCR_ACCESS_TOKEN_TTL: number;
  DCR_REFRESH_TOKEN_TTL: number;
  DCR_APP_MANAGE_USERS: string;
  DCR_APP_TOKENS_MANAGE_APPS: boolean;
  DCR_AUTH_CACHE_TTL: number;
  DCR_TOKEN_COMMIT: 'async' | 'sync';
  DCR_TOKEN_PURGE_INTERVAL: number;
  DCR_LOGIN_MAX_FAILURES: number;
  DCR_LOGIN_MAX_FAILURES_PER_ADDRESS: number;
  DCR_LOGIN_FAILURE_WINDOW: number;
  DCR_APIM_NOTIFY_URL?: string;
  DCR_APIM_NOTIFY_USER?: string;
  DCR_APIM_NOTIFY_PASSWORD?: string;
  DCR_APIM_NOTIFY_BATCH_SIZE: number;
  DCR_APIM_NOTIFY_POLL_INTERVAL: number;
  DCR_APIM_NOTIFY_TIMEOUT: number;
  DCR_APIM_NOTIFY_RETRY_MAX_DELAY: number;
  DCR_APIM_NOTIFY_MAX_EVENTS: number;
  DCR_APIM_NOTIFY_STALE_AFTER: number;
  DCR_METRICS: boolean;
  TLS_CERT_FILE?: string;
  TLS_KEY_FILE?: string;
}

const PROXY_KEYWORDS = new Set(['loopback', 'linklocal', 'uniquelocal']);

/**
 * DCR_TRUST_PROXY: addresses, CIDR ranges (`10.0.0.0/8`, `fd00::/8`) and proxy-addr's keywords,
 * comma separated. Checked here so that a typo is a start-up error, not a proxy silently distrusted.
 */
export function parseTrustProxy(text: string): string[] {
  const entries = text.split(',').map((entry) => entry.trim()).filter(Boolean);
  for (const entry of entries) {
    const [address, bits, extra] = entry.split('/');
    const family = isIP(address ?? '');
    const validBits = bits === undefined || (/^\d{1,3}$/.test(bits) && Number(bits) <= (family === 6 ? 128 : 32));
    if (PROXY_KEYWORDS.has(entry) || (family !== 0 && validBits && extra === undefined)) continue;
    throw new ConfigError(
      `Invalid configuration: DCR_TRUST_PROXY holds '${entry}': each entry must be an IP address, a CIDR range or one of loopback, linklocal, uniquelocal`,
    );
  }
  if (entries.length === 0) throw new ConfigError('Invalid configuration: DCR_TRUST_PROXY names no proxy');
  return entries;
}

/**
 * DCR_APIM_NOTIFY_URL: http(s) URLs, comma separated, each once. User info is refused (the
 * credentials have their own settings, and a URL shows up in logs and metric labels); the error
 * names the entry's position, never its text, which could hold a password.
 */
export function parseNotifyUrls(text: string): string[] {
  const entries = text.split(',').map((entry) => entry.trim()).filter(Boolean);
  if (entries.length === 0) throw new ConfigError('Invalid configuration: DCR_APIM_NOTIFY_URL names no URL');
  const urls: string[] = [];
  entries.forEach((entry, index) => {
    let url: URL;
    try {
      url = new URL(entry);
    } catch {
      throw new ConfigError(`Invalid configuration: DCR_APIM_NOTIFY_URL entry ${index + 1} is not a URL`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new ConfigError(`Invalid configuration: DCR_APIM_NOTIFY_URL entry ${index + 1} must be an http or https URL`);
    }
    if (url.username || url.password) {
      throw new ConfigError(
        `Invalid configuration: DCR_APIM_NOTIFY_URL entry ${index + 1} holds user info; set DCR_APIM_NOTIFY_USER and DCR_APIM_NOTIFY_PASSWORD instead`,
      );
    }
    if (url.hash) throw new ConfigError(`Invalid configuration: DCR_APIM_NOTIFY_URL entry ${index + 1} has a #fragment`);
    if (!urls.includes(url.href)) urls.push(url.href);
  });
  return urls;
}

function apimNotifyConfig(raw: RawEnv): ApimNotifyConfig | undefined {
  if ((raw.DCR_APIM_NOTIFY_USER === undefined) !== (raw.DCR_APIM_NOTIFY_PASSWORD === undefined)) {
    throw new ConfigError('Invalid configuration: set both DCR_APIM_NOTIFY_USER and DCR_APIM_NOTIFY_PASSWORD, or neither');
  }
  if (raw.DCR_APIM_NOTIFY_URL === undefined) return undefined;
  return {
    urls: parseNotifyUrls(raw.DCR_APIM_NOTIFY_URL),
    credentials:
      raw.DCR_APIM_NOTIFY_USER !== undefined && raw.DCR_APIM_NOTIFY_PASSWORD !== undefined
        ? { user: raw.DCR_APIM_NOTIFY_USER, password: raw.DCR_APIM_NOTIFY_PASSWORD }
        : undefined,
    batchSize: raw.DCR_APIM_NOTIFY_BATCH_SIZE,
    pollIntervalMs: raw.DCR_APIM_NOTIFY_POLL_INTERVAL,
    timeoutMs: raw.DCR_APIM_NOTIFY_TIMEOUT,
    retryMaxDelayMs: raw.DCR_APIM_NOTIFY_RETRY_MAX_DELAY * 1000,
    maxEvents: raw.DCR_APIM_NOTIFY_MAX_EVENTS,
    staleAfterSeconds: raw.DCR_APIM_NOTIFY_STALE_AFTER,
  };
}

/**
 * Reads the configuration from an environment. Empty values count as unset, so that a blank line
 * copied from .env.example does not override a default. Throws ConfigError naming the variable.
 */
export function loadConfig(env: Record<string, string | undefined>, cwd = process.cwd()): Config {
  const data: Record<string, string> = {};
  for (const key of SETTING_NAMES) {
    const value = env[key];
    if (value !== undefined && value !== '') data[key] = value;
  }
  let raw: RawEnv;
  try {
    raw = envSchema<RawEnv>({ schema: SETTINGS_SCHEMA, data, env: false, dotenv: false });
  } catch (err) {
    // env-schema's message is "<VAR> must ..." (AJV's instancePath made readable); keep it.
    throw new ConfigError(`Invalid configuration: ${(err as Error).message}`);
  }

  const secretKey = secretKeySetting(raw.DCR_SECRET_KEY);
  const previousSecretKeys = previousSecretKeysSetting(raw.DCR_SECRET_KEY_PREVIOUS);

  let allowedGrantTypes: readonly string[] = DEFAULT_ALLOWED_GRANT_TYPES;
  if (raw.DCR_ALLOWED_GRANT_TYPES !== undefined) {
    allowedGrantTypes = raw.DCR_ALLOWED_GRANT_TYPES.split(/[\s,]+/).filter(Boolean);
    if (allowedGrantTypes.length === 0) {
      throw new ConfigError('Invalid configuration: DCR_ALLOWED_GRANT_TYPES names no grant type');
    }
  }

  if ((raw.TLS_CERT_FILE === undefined) !== (raw.TLS_KEY_FILE === undefined)) {
    throw new ConfigError('Invalid configuration: set both TLS_CERT_FILE and TLS_KEY_FILE, or neither');
  }
  const tls = raw.TLS_CERT_FILE && raw.TLS_KEY_FILE
    ? { certFile: path.resolve(cwd, raw.TLS_CERT_FILE), keyFile: path.resolve(cwd, raw.TLS_KEY_FILE) }
    : undefined;
  // WSO2's port convention: 9763 for HTTP, 9443 for HTTPS.
  const port = raw.PORT ?? (tls ? 9443 : 9763);

  // The default public URL is this server's own address; a wildcard bind address is not reachable.
  const publicHost = raw.HOST === '0.0.0.0' || raw.HOST === '::' ? 'localhost' : raw.HOST;
  const scheme = tls ? 'https' : 'http';
  const publicUrl = (raw.DCR_PUBLIC_URL ?? `${scheme}://${publicHost.includes(':') ? `[${publicHost}]` : publicHost}:${port}`).replace(/\/+$/, '');
  // WSO2 IS's issuer is its token endpoint's URL; API Manager compares `iss` with it exactly, so a
  // trailing slash of an explicit DCR_ISSUER is kept as given.
  const issuer = raw.DCR_ISSUER ?? `${publicUrl}/oauth2/token`;
  const trustProxy = raw.DCR_TRUST_PROXY === undefined ? [] : parseTrustProxy(raw.DCR_TRUST_PROXY);
  const appManageUsers = raw.DCR_APP_MANAGE_USERS.trim() === '*' ? undefined : raw.DCR_APP_MANAGE_USERS.split(/[\s,]+/).filter(Boolean);

  return {
    port,
    host: raw.HOST,
    databaseUrl: raw.DATABASE_URL,
    dataDir: path.resolve(cwd, raw.DCR_DATA_DIR),
    secretKey,
    previousSecretKeys,
    adminUser: raw.DCR_ADMIN_USER,
    adminPassword: raw.DCR_ADMIN_PASSWORD,
    bodyLimit: raw.DCR_BODY_LIMIT,
    allowedGrantTypes,
    logLevel: raw.LOG_LEVEL,
    dbPoolSize: raw.DCR_DB_POOL_SIZE,
    dbTimeoutMs: raw.DCR_DB_TIMEOUT_MS,
    publicUrl,
    issuer,
    jwtAlg: raw.DCR_JWT_ALG,
    trustProxy,
    appTokensManageApps: raw.DCR_APP_TOKENS_MANAGE_APPS,
    accessTokenTtlSeconds: raw.DCR_ACCESS_TOKEN_TTL,
    refreshTokenTtlSeconds: raw.DCR_REFRESH_TOKEN_TTL,
    appManageUsers,
    authCacheTtlSeconds: raw.DCR_AUTH_CACHE_TTL,
    tokenCommit: raw.DCR_TOKEN_COMMIT,
    tokenPurgeIntervalSeconds: raw.DCR_TOKEN_PURGE_INTERVAL,
    loginThrottle: {
      maxFailures: raw.DCR_LOGIN_MAX_FAILURES,
      maxFailuresPerAddress: raw.DCR_LOGIN_MAX_FAILURES_PER_ADDRESS,
      windowSeconds: raw.DCR_LOGIN_FAILURE_WINDOW,
    },
    apimNotify: apimNotifyConfig(raw),
    metricsEnabled: raw.DCR_METRICS,
    tls,
  };
}
