/**
 * The one table of the server's settings: for each environment variable, the JSON Schema that
 * validates it (and gives its default) beside what it means. Everything else about a setting is
 * derived from here: the schema loadConfig validates with, `dcr --help`, `dcr settings`, and the
 * README's table (`dcr settings --markdown`); .env.example is checked against it
 * (test/unit/deploy-files.test.ts).
 */
interface SettingSpec {
  /** The JSON Schema property env-schema validates the value with; its `default` is the setting's. */
  schema: { type: 'integer' | 'string' | 'boolean'; default?: string | number | boolean; [keyword: string]: unknown };
  description: string;
  /** The default as people read it, for a setting whose default is computed (no `default` in its schema). */
  defaultText: string | undefined;
  /** A secret: its value is never shown, logged or echoed in an error (SECRET_SETTINGS). */
  secret: boolean;
}

/** A setting's entry; its description is required, so a setting cannot be added undocumented. */
const setting = (schema: SettingSpec['schema'], description: string, defaultText?: string): SettingSpec => ({ schema, description, defaultText, secret: false });
/** A secret setting's entry (see SettingSpec.secret). */
const secret = (schema: SettingSpec['schema'], description: string, defaultText?: string): SettingSpec => ({ ...setting(schema, description, defaultText), secret: true });

const TABLE = {
  PORT: setting({ type: 'integer', minimum: 0, maximum: 65535 }, "listening port (WSO2's: 9763 for HTTP, 9443 for HTTPS)", '9763, or 9443 with TLS'),
  HOST: setting({ type: 'string', minLength: 1, default: '127.0.0.1' }, 'bind address (`0.0.0.0` in a container)'),
  DATABASE_URL: setting({ type: 'string', pattern: '^postgres(ql)?://' },
    'external PostgreSQL (`postgres://user:pass@host:5432/db`); unset: embedded PostgreSQL in `DCR_DATA_DIR`'),
  DCR_DATA_DIR: setting({ type: 'string', minLength: 1, default: './data' }, 'data folder of the embedded default: cluster, generated secret key, lock file'),
  DCR_SECRET_KEY: secret({ type: 'string' },
    '32 bytes, base64 or hex (`openssl rand -base64 32`), encrypts client secrets. Required with `DATABASE_URL`; ' +
    'on the embedded default generated once into `DCR_DATA_DIR/secret.key` (mode 0600)'),
  DCR_SECRET_KEY_PREVIOUS: secret({ type: 'string' },
    'older secret keys, comma separated, same format: they still open what they encrypted, nothing new is ' +
    'encrypted with them. Set during a key rotation until `dcr secrets reencrypt` has run (README, "Rotating the secret key")'),
  DCR_ADMIN_USER: setting({ type: 'string', pattern: '^[^\\s:]{1,64}$', default: 'admin' }, "the super admin's user name"),
  DCR_ADMIN_PASSWORD: secret({ type: 'string', minLength: 1, maxLength: 1024 },
    "the super admin's password, applied at every start. Unset on the embedded default: generated at the first " +
    'start and printed once. Required with `DATABASE_URL` for the first start'),
  DCR_BODY_LIMIT: setting({ type: 'integer', minimum: 1024, maximum: 16777216, default: 65536 }, 'largest request body in bytes; larger bodies get 413'),
  DCR_ALLOWED_GRANT_TYPES: setting({ type: 'string', minLength: 1 }, 'grant types apps may register, space or comma separated', "WSO2's list"),
  LOG_LEVEL: setting({ type: 'string', enum: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], default: 'info' },
    '`fatal` … `trace`, or `silent`'),
  DCR_DB_POOL_SIZE: setting({ type: 'integer', minimum: 1, maximum: 200, default: 10 },
    'PostgreSQL connections per instance, opened as load needs them and then kept open (never closed for being idle)'),
  DCR_DB_TIMEOUT_MS: setting({ type: 'integer', minimum: 100, maximum: 600000, default: 5000 },
    'bound on getting a connection and on one statement; past it a request answers 503'),
  DCR_PUBLIC_URL: setting({ type: 'string', pattern: '^https?://[^\\s/?#]+/?$' },
    'the base URL clients reach this server at (scheme, host, port; no path): the absolute URLs the server writes ' +
    "(SCIM `meta.location`, the documentation's `servers`) are built from it, never from a request's `Host` header",
    'http://HOST:PORT'),
  DCR_ISSUER: setting({ type: 'string', pattern: '^https?://[^\\s/?#]+(/[^\\s?#]*)?$' },
    "`iss` of the JWTs (the value WSO2 API Manager's Key Manager record names, matched exactly, trailing slash and " +
    "all) and RFC 8414's `issuer`. The default is WSO2 IS's, whose discovery document is at " +
    '`/oauth2/token/.well-known/openid-configuration`. With several instances over one database, give them one ' +
    '`DCR_PUBLIC_URL` (or this): a JWT is only accepted where its `iss` is the issuer',
    '`DCR_PUBLIC_URL`/oauth2/token'),
  DCR_JWT_ALG: setting({ type: 'string', enum: ['RS256', 'PS256', 'ES256'], default: 'RS256' },
    "signature algorithm of JWT access tokens: `RS256` (RSA-2048, WSO2's; the only kind every API Manager gateway " +
    'accepts), `PS256` (RSA-2048, newer gateways), `ES256` (P-256; not accepted by the gateway). Changing it rotates ' +
    'the signing key at the next start; tokens signed before keep verifying until they expire. The same on every instance'),
  DCR_TRUST_PROXY: setting({ type: 'string', minLength: 1 },
    'reverse proxies whose `X-Forwarded-For` names the client, comma separated: addresses, CIDR ranges, or ' +
    '`loopback`, `linklocal`, `uniquelocal`. Unset: the client is the connection\'s peer. Failed logins are counted ' +
    'per client address, so behind a proxy set it, or every client shares the proxy\'s address'),
  DCR_ACCESS_TOKEN_TTL: setting({ type: 'integer', minimum: 60, maximum: 31536000, default: 3600 }, 'access token lifetime, in seconds'),
  DCR_REFRESH_TOKEN_TTL: setting({ type: 'integer', minimum: 60, maximum: 31536000, default: 86400 }, 'refresh token lifetime, in seconds'),
  DCR_APP_MANAGE_USERS: setting({ type: 'string', minLength: 1, default: '*' },
    'users who may be granted the `apim:dcr:app_manage` scope, space or comma separated; `*`: anyone. The super ' +
    'admin and, when this is a list, the users in it may also introspect any token'),
  DCR_APP_TOKENS_MANAGE_APPS: setting({ type: 'boolean', default: true },
    "`true`: an application's own token (client_credentials) acts for its owner, `apim:dcr:app_manage` included, as " +
    "in WSO2 (a token of an app the super admin owns registers apps for any owner). `false`: only users' tokens " +
    '(password and refresh grants) carry that scope'),
  DCR_AUTH_CACHE_TTL: setting({ type: 'integer', minimum: 0, maximum: 3600, default: 300 },
    'seconds a verified Basic credential or client secret is remembered (0: never)'),
  DCR_TOKEN_COMMIT: setting({ type: 'string', enum: ['async', 'sync'], default: 'async' },
    '`async`: a client_credentials access token is answered before PostgreSQL flushes it to disk, so a crash of the ' +
    'database (not of this server) may lose those of its last moments (3 × wal_writer_delay, 0.6 s by default), whose clients then get 401 and ask again; ' +
    '`sync`: after. Registrations, revocations and refresh tokens always wait for the flush'),
  DCR_TOKEN_PURGE_INTERVAL: setting({ type: 'integer', minimum: 0, maximum: 86400, default: 600 },
    'seconds between two deletions of the tokens that can no longer be used (expired access tokens; refresh tokens ' +
    'of families with no unexpired token left), the first a minute after start; `0`: never (run `dcr tokens purge` from a job of your own)'),
  DCR_LOGIN_MAX_FAILURES: setting({ type: 'integer', minimum: 0, maximum: 100000, default: 10 },
    'failed password logins allowed for one user name from one client address within the window before that pair ' +
    'gets 429; beyond as many failures of the name from all addresses, its logins are delayed instead (README, ' +
    '"Security model"). 0: no throttling'),
  DCR_LOGIN_MAX_FAILURES_PER_ADDRESS: setting({ type: 'integer', minimum: 1, maximum: 1000000, default: 100 },
    'failed password logins allowed from one client address within the window, all names together, before 429'),
  DCR_LOGIN_FAILURE_WINDOW: setting({ type: 'integer', minimum: 1, maximum: 86400, default: 300 },
    'seconds a failed login counts against its user name and address'),
  DCR_APIM_NOTIFY_URL: setting({ type: 'string', minLength: 1 },
    "WSO2 API Manager's notify endpoints (`https://apim:9443/internal/data/v1/notify`), comma separated: every revocation " +
    "(tokens revoked, refresh tokens rotated or replayed, apps deleted or given a new secret, users deleted or given a new password) " +
    'is announced to each, so that its gateway refuses the JWTs concerned (README, "Revocation events to API Manager"). ' +
    'Unset: nothing is sent or queued. The same list on every instance'),
  DCR_APIM_NOTIFY_USER: setting({ type: 'string', minLength: 1 }, 'user name of the Basic credentials sent to the notify endpoints (with `DCR_APIM_NOTIFY_PASSWORD`)'),
  DCR_APIM_NOTIFY_PASSWORD: secret({ type: 'string', minLength: 1, maxLength: 1024 }, 'password of those credentials'),
  DCR_APIM_NOTIFY_BATCH_SIZE: setting({ type: 'integer', minimum: 1, maximum: 1000, default: 100 },
    'events one instance claims for one URL at a time (events of one consumer key go out one after the other, in order)'),
  DCR_APIM_NOTIFY_POLL_INTERVAL: setting({ type: 'integer', minimum: 50, maximum: 60000, default: 500 },
    'milliseconds between two looks for new events when none were waiting'),
  DCR_APIM_NOTIFY_TIMEOUT: setting({ type: 'integer', minimum: 100, maximum: 60000, default: 5000 },
    'milliseconds a notify request may take before it counts as failed (and is tried again)'),
  DCR_APIM_NOTIFY_RETRY_MAX_DELAY: setting({ type: 'integer', minimum: 1, maximum: 3600, default: 60 },
    'seconds between two attempts at most: failed deliveries are retried after 1 s, 2 s, 4 s, … (with jitter) up to this'),
  DCR_APIM_NOTIFY_MAX_EVENTS: setting({ type: 'integer', minimum: 1, maximum: 10000000, default: 100000 },
    'events kept waiting per URL at most; beyond it the oldest are dropped (counted and logged). Events are also dropped ' +
    'once every token they refuse has expired'),
  DCR_APIM_NOTIFY_STALE_AFTER: setting({ type: 'integer', minimum: 1, maximum: 86400, default: 60 },
    'seconds after which a waiting event makes `/health/ready` report `revocationEvents` `DELAYED` (still 200)'),
  DCR_METRICS: setting({ type: 'boolean', default: true }, 'serve Prometheus metrics at `/metrics` (`true` or `false`)'),
  TLS_CERT_FILE: setting({ type: 'string', minLength: 1 }, 'PEM certificate file; with `TLS_KEY_FILE` the server speaks HTTPS only'),
  TLS_KEY_FILE: setting({ type: 'string', minLength: 1 }, 'PEM private key file of `TLS_CERT_FILE`'),
};

export type SettingName = keyof typeof TABLE;

/** Every setting's name, in the table's order (the order of `dcr --help` and of the README). */
export const SETTING_NAMES = Object.keys(TABLE) as readonly SettingName[];

/** The environment's JSON Schema, for env-schema: each setting's property, unknown variables allowed. */
export const SETTINGS_SCHEMA = {
  type: 'object',
  additionalProperties: true,
  properties: Object.fromEntries(SETTING_NAMES.map((name) => [name, TABLE[name].schema])),
};

export interface SettingDescription {
  name: SettingName;
  /** The default as people read it: the schema's, else a description of the computed one, else `unset`. */
  default: string;
  description: string;
  /** Never shown, logged or echoed. */
  secret: boolean;
}

/** The secret settings: their values appear nowhere the server writes. */
export const SECRET_SETTINGS: ReadonlySet<SettingName> = new Set(SETTING_NAMES.filter((name) => TABLE[name].secret));

/** Every setting, in the table's order, with its default taken from the schema. */
export const SETTINGS: readonly SettingDescription[] = SETTING_NAMES.map((name) => {
  const { schema, description, defaultText, secret: isSecret } = TABLE[name];
  return {
    name,
    default: schema.default !== undefined ? String(schema.default) : (defaultText ?? 'unset'),
    description,
    secret: isSecret,
  };
});
