import { isIP } from 'node:net';
import path from 'node:path';
import envSchema from 'env-schema';
import { DEFAULT_ALLOWED_GRANT_TYPES } from '../domain/registration-rules.js';

/**
 * Every setting of the server, parsed and validated once at start-up (DEVELOPERS.md: nothing below
 * server.ts reads process.env). Each key is documented in .env.example and the README.
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
  /** RFC 8414 issuer: `iss` of JWTs and the base of the metadata's endpoint URLs. */
  issuer: string;
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
  metricsEnabled: boolean;
  /** PEM files: when both are set the server speaks HTTPS only. */
  tls: { certFile: string; keyFile: string } | undefined;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

const schema = {
  type: 'object',
  additionalProperties: true,
  properties: {
    PORT: { type: 'integer', minimum: 0, maximum: 65535 },
    HOST: { type: 'string', minLength: 1, default: '127.0.0.1' },
    DATABASE_URL: { type: 'string', pattern: '^postgres(ql)?://' },
    DCR_DATA_DIR: { type: 'string', minLength: 1, default: './data' },
    DCR_SECRET_KEY: { type: 'string' },
    DCR_SECRET_KEY_PREVIOUS: { type: 'string' },
    DCR_ADMIN_USER: { type: 'string', pattern: '^[^\\s:]{1,64}$', default: 'admin' },
    DCR_ADMIN_PASSWORD: { type: 'string', minLength: 1, maxLength: 1024 },
    DCR_BODY_LIMIT: { type: 'integer', minimum: 1024, maximum: 16777216, default: 65536 },
    DCR_ALLOWED_GRANT_TYPES: { type: 'string', minLength: 1 },
    LOG_LEVEL: {
      type: 'string',
      enum: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'],
      default: 'info',
    },
    DCR_DB_POOL_SIZE: { type: 'integer', minimum: 1, maximum: 200, default: 10 },
    DCR_DB_TIMEOUT_MS: { type: 'integer', minimum: 100, maximum: 600000, default: 5000 },
    DCR_PUBLIC_URL: { type: 'string', pattern: '^https?://[^\\s/?#]+/?$' },
    DCR_ISSUER: { type: 'string', pattern: '^https?://[^\\s/?#]+(/[^\\s?#]*)?$' },
    DCR_TRUST_PROXY: { type: 'string', minLength: 1 },
    DCR_ACCESS_TOKEN_TTL: { type: 'integer', minimum: 60, maximum: 31536000, default: 3600 },
    DCR_REFRESH_TOKEN_TTL: { type: 'integer', minimum: 60, maximum: 31536000, default: 86400 },
    DCR_APP_MANAGE_USERS: { type: 'string', minLength: 1, default: '*' },
    DCR_APP_TOKENS_MANAGE_APPS: { type: 'boolean', default: true },
    DCR_AUTH_CACHE_TTL: { type: 'integer', minimum: 0, maximum: 3600, default: 300 },
    DCR_TOKEN_COMMIT: { type: 'string', enum: ['async', 'sync'], default: 'async' },
    DCR_TOKEN_PURGE_INTERVAL: { type: 'integer', minimum: 0, maximum: 86400, default: 600 },
    DCR_LOGIN_MAX_FAILURES: { type: 'integer', minimum: 0, maximum: 100000, default: 10 },
    DCR_LOGIN_MAX_FAILURES_PER_ADDRESS: { type: 'integer', minimum: 1, maximum: 1000000, default: 100 },
    DCR_LOGIN_FAILURE_WINDOW: { type: 'integer', minimum: 1, maximum: 86400, default: 300 },
    DCR_METRICS: { type: 'boolean', default: true },
    TLS_CERT_FILE: { type: 'string', minLength: 1 },
    TLS_KEY_FILE: { type: 'string', minLength: 1 },
  },
} as const;

export type SettingName = keyof typeof schema.properties;

/**
 * What each setting means, next to the schema that validates it: the one source of the settings'
 * documentation (`dcr --help`, and the README's table via `dcr settings --markdown`). The record
 * type makes a setting added to the schema without a description a type error.
 */
const SETTING_DOCS: Record<SettingName, { description: string; defaultText?: string }> = {
  PORT: { description: "listening port (WSO2's: 9763 for HTTP, 9443 for HTTPS)", defaultText: '9763, or 9443 with TLS' },
  HOST: { description: 'bind address (`0.0.0.0` in a container)' },
  DATABASE_URL: {
    description: 'external PostgreSQL (`postgres://user:pass@host:5432/db`); unset: embedded PostgreSQL in `DCR_DATA_DIR`',
  },
  DCR_DATA_DIR: { description: 'data folder of the embedded default: cluster, generated secret key, lock file' },
  DCR_SECRET_KEY: {
    description:
      '32 bytes, base64 or hex (`openssl rand -base64 32`), encrypts client secrets. Required with `DATABASE_URL`; ' +
      'on the embedded default generated once into `DCR_DATA_DIR/secret.key` (mode 0600)',
  },
  DCR_SECRET_KEY_PREVIOUS: {
    description:
      'older secret keys, comma separated, same format: they still open what they encrypted, nothing new is ' +
      'encrypted with them. Set during a key rotation until `dcr secrets reencrypt` has run (README, "Rotating the secret key")',
  },
  DCR_ADMIN_USER: { description: "the super admin's user name" },
  DCR_ADMIN_PASSWORD: {
    description:
      "the super admin's password, applied at every start. Unset on the embedded default: generated at the first " +
      'start and printed once. Required with `DATABASE_URL` for the first start',
  },
  DCR_BODY_LIMIT: { description: 'largest request body in bytes; larger bodies get 413' },
  DCR_ALLOWED_GRANT_TYPES: {
    description: 'grant types apps may register, space or comma separated',
    defaultText: "WSO2's list",
  },
  LOG_LEVEL: { description: '`fatal` … `trace`, or `silent`' },
  DCR_DB_POOL_SIZE: { description: 'PostgreSQL connections per instance, opened as load needs them and then kept open (never closed for being idle)' },
  DCR_DB_TIMEOUT_MS: {
    description: 'bound on getting a connection and on one statement; past it a request answers 503',
  },
  DCR_PUBLIC_URL: {
    description:
      'the base URL clients reach this server at (scheme, host, port; no path): the absolute URLs the server writes ' +
      "(SCIM `meta.location`, the documentation's `servers`) are built from it, never from a request's `Host` header",
    defaultText: 'http://HOST:PORT',
  },
  DCR_ISSUER: {
    description:
      "RFC 8414 issuer: `iss` of the JWTs and the base of the metadata document's endpoint URLs. Set it, the same on " +
      'every instance, when several instances share one database: a JWT is only accepted where its `iss` is the issuer',
    defaultText: 'http://HOST:PORT',
  },
  DCR_ACCESS_TOKEN_TTL: { description: 'access token lifetime, in seconds' },
  DCR_REFRESH_TOKEN_TTL: { description: 'refresh token lifetime, in seconds' },
  DCR_TRUST_PROXY: {
    description:
      'reverse proxies whose `X-Forwarded-For` names the client, comma separated: addresses, CIDR ranges, or ' +
      '`loopback`, `linklocal`, `uniquelocal`. Unset: the client is the connection\'s peer. Failed logins are counted ' +
      'per client address, so behind a proxy set it, or every client shares the proxy\'s address',
  },
  DCR_APP_MANAGE_USERS: {
    description:
      'users who may be granted the `apim:dcr:app_manage` scope, space or comma separated; `*`: anyone. The super ' +
      'admin and, when this is a list, the users in it may also introspect any token',
  },
  DCR_APP_TOKENS_MANAGE_APPS: {
    description:
      "`true`: an application's own token (client_credentials) acts for its owner, `apim:dcr:app_manage` included, as " +
      "in WSO2 (a token of an app the super admin owns registers apps for any owner). `false`: only users' tokens " +
      '(password and refresh grants) carry that scope',
  },
  DCR_AUTH_CACHE_TTL: { description: 'seconds a verified Basic credential or client secret is remembered (0: never)' },
  DCR_TOKEN_COMMIT: {
    description:
      '`async`: a client_credentials access token is answered before PostgreSQL flushes it to disk, so a crash of the ' +
      'database (not of this server) may lose those of its last moments (3 × wal_writer_delay, 0.6 s by default), whose clients then get 401 and ask again; ' +
      '`sync`: after. Registrations, revocations and refresh tokens always wait for the flush',
  },
  DCR_TOKEN_PURGE_INTERVAL: {
    description:
      'seconds between two deletions of the tokens that can no longer be used (expired access tokens; refresh tokens ' +
      'of families with no unexpired token left), the first a minute after start; `0`: never (run `dcr tokens purge` from a job of your own)',
  },
  DCR_LOGIN_MAX_FAILURES: {
    description:
      'failed password logins allowed for one user name from one client address within the window before that pair ' +
      'gets 429; beyond as many failures of the name from all addresses, its logins are delayed instead (README, ' +
      '"Security model"). 0: no throttling',
  },
  DCR_LOGIN_MAX_FAILURES_PER_ADDRESS: {
    description: 'failed password logins allowed from one client address within the window, all names together, before 429',
  },
  DCR_LOGIN_FAILURE_WINDOW: { description: 'seconds a failed login counts against its user name and address' },
  DCR_METRICS: { description: 'serve Prometheus metrics at `/metrics` (`true` or `false`)' },
  TLS_CERT_FILE: { description: 'PEM certificate file; with `TLS_KEY_FILE` the server speaks HTTPS only' },
  TLS_KEY_FILE: { description: 'PEM private key file of `TLS_CERT_FILE`' },
};

export interface SettingDescription {
  name: SettingName;
  /** The default as people read it: the schema's, else a description of the computed one, else `unset`. */
  default: string;
  description: string;
}

/** Every setting, in the schema's order, with its default taken from the schema. */
export const SETTINGS: readonly SettingDescription[] = (Object.keys(schema.properties) as SettingName[]).map((name) => {
  const property = schema.properties[name] as { default?: unknown };
  const docs = SETTING_DOCS[name];
  return {
    name,
    default: property.default !== undefined ? String(property.default) : (docs.defaultText ?? 'unset'),
    description: docs.description,
  };
});

/** The README's settings table. */
export function settingsMarkdown(): string {
  const rows = SETTINGS.map((s) => {
    const value = /^[\w./*-]+$/.test(s.default) && s.default !== 'unset' ? `\`${s.default}\`` : s.default;
    return `| \`${s.name}\` | ${value} | ${s.description} |`;
  });
  return ['| variable | default | meaning |', '| --- | --- | --- |', ...rows].join('\n');
}

/** The settings as plain text for a terminal (`dcr --help`): one line each, descriptions wrapped. */
export function settingsText(indent = '  ', width = 100): string {
  const nameWidth = Math.max(...SETTINGS.map((s) => s.name.length));
  const defaultWidth = Math.max(...SETTINGS.map((s) => s.default.length));
  const pad = indent.length + nameWidth + defaultWidth + 4;
  return SETTINGS.map((s) => {
    const words = s.description.replace(/`/g, '').split(' ');
    const lines: string[] = [];
    let line = '';
    for (const word of words) {
      if (line && pad + line.length + 1 + word.length > width) {
        lines.push(line);
        line = word;
      } else {
        line = line ? `${line} ${word}` : word;
      }
    }
    lines.push(line);
    const head = `${indent}${s.name.padEnd(nameWidth)}  ${s.default.padEnd(defaultWidth)}  `;
    return [head + lines[0], ...lines.slice(1).map((l) => ' '.repeat(pad) + l)].join('\n');
  }).join('\n');
}

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
  DCR_METRICS: boolean;
  TLS_CERT_FILE?: string;
  TLS_KEY_FILE?: string;
}

/** Parses a 256-bit key; undefined when it is not exactly 32 bytes in one of the accepted encodings. */
export function parseSecretKey(text: string): Buffer | undefined {
  const trimmed = text.trim();
  if (/^[0-9a-fA-F]{64}$/.test(trimmed)) return Buffer.from(trimmed, 'hex');
  if (/^[A-Za-z0-9+/_-]{43}={0,1}$/.test(trimmed)) {
    const key = Buffer.from(trimmed, 'base64');
    if (key.length === 32) return key;
  }
  return undefined;
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
 * Reads the configuration from an environment. Empty values count as unset, so that a blank line
 * copied from .env.example does not override a default. Throws ConfigError naming the variable.
 */
export function loadConfig(env: Record<string, string | undefined>, cwd = process.cwd()): Config {
  const data: Record<string, string> = {};
  for (const key of Object.keys(schema.properties)) {
    const value = env[key];
    if (value !== undefined && value !== '') data[key] = value;
  }
  let raw: RawEnv;
  try {
    raw = envSchema<RawEnv>({ schema, data, env: false, dotenv: false });
  } catch (err) {
    // env-schema's message is "<VAR> must ..." (AJV's instancePath made readable); keep it.
    throw new ConfigError(`Invalid configuration: ${(err as Error).message}`);
  }

  let secretKey: Buffer | undefined;
  if (raw.DCR_SECRET_KEY !== undefined) {
    secretKey = parseSecretKey(raw.DCR_SECRET_KEY);
    if (!secretKey) {
      throw new ConfigError(
        'Invalid configuration: DCR_SECRET_KEY must be 32 random bytes, as 64 hex characters or ' +
          'base64 (generate one with: openssl rand -base64 32)',
      );
    }
  }

  const previousSecretKeys: Buffer[] = [];
  if (raw.DCR_SECRET_KEY_PREVIOUS !== undefined) {
    const texts = raw.DCR_SECRET_KEY_PREVIOUS.split(',').map((text) => text.trim()).filter(Boolean);
    for (const [index, text] of texts.entries()) {
      const key = parseSecretKey(text);
      if (!key) {
        throw new ConfigError(
          `Invalid configuration: DCR_SECRET_KEY_PREVIOUS holds an invalid key (number ${index + 1}): each must be ` +
            '32 bytes as 64 hex characters or base64, separated by commas',
        );
      }
      previousSecretKeys.push(key);
    }
  }

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
  const issuer = (raw.DCR_ISSUER ?? publicUrl).replace(/\/+$/, '');
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
    metricsEnabled: raw.DCR_METRICS,
    tls,
  };
}
