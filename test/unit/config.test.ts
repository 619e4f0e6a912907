/**
 * loadConfig with explicit environment objects: never process.env (nothing below server.ts reads it).
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import t from 'tap';
import { loadConfig } from '../../src/config/config.js';
import { ConfigError } from '../../src/config/config-error.js';
import { parseSecretKey } from '../../src/config/secret-keys.js';
import { DEFAULT_ALLOWED_GRANT_TYPES } from '../../src/domain/registration-rules.js';

const CWD = '/srv/dcr';

/** The ConfigError `fn` throws; anything else (or no throw) fails the calling test. */
function configErrorOf(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError, nothing was thrown');
}

t.test('defaults from an empty environment', async (t) => {
  const config = loadConfig({}, CWD);
  t.match(config, {
    port: 9763,
    host: '127.0.0.1',
    databaseUrl: undefined,
    dataDir: path.resolve(CWD, 'data'),
    secretKey: undefined,
    adminUser: 'admin',
    adminPassword: undefined,
    bodyLimit: 65536,
    allowedGrantTypes: DEFAULT_ALLOWED_GRANT_TYPES,
    logLevel: 'info',
    dbPoolSize: 10,
    dbTimeoutMs: 5000,
    tokenCommit: 'async',
  });
});

t.test('the data folder resolves against the given cwd, process.cwd() by default', async (t) => {
  t.equal(loadConfig({}).dataDir, path.resolve(process.cwd(), 'data'));
  t.equal(loadConfig({ DCR_DATA_DIR: 'var/dcr' }, CWD).dataDir, '/srv/dcr/var/dcr');
  t.equal(loadConfig({ DCR_DATA_DIR: '../elsewhere' }, CWD).dataDir, '/srv/elsewhere');
  t.equal(loadConfig({ DCR_DATA_DIR: '/var/lib/dcr' }, CWD).dataDir, '/var/lib/dcr');
});

t.test('every setting read from the environment', async (t) => {
  const hex = randomBytes(32);
  const config = loadConfig(
    {
      PORT: '8080',
      HOST: '0.0.0.0',
      DATABASE_URL: 'postgresql://dcr:pw@db:5432/dcr',
      DCR_DATA_DIR: '/data',
      DCR_SECRET_KEY: hex.toString('hex'),
      DCR_ADMIN_USER: 'root',
      DCR_ADMIN_PASSWORD: 's3cret',
      DCR_BODY_LIMIT: '1024',
      DCR_ALLOWED_GRANT_TYPES: 'password client_credentials',
      LOG_LEVEL: 'warn',
      DCR_DB_POOL_SIZE: '3',
      DCR_DB_TIMEOUT_MS: '750',
      DCR_TOKEN_COMMIT: 'sync',
      UNRELATED: 'ignored',
    },
    CWD,
  );
  t.equal(config.port, 8080);
  t.equal(config.host, '0.0.0.0');
  t.equal(config.databaseUrl, 'postgresql://dcr:pw@db:5432/dcr');
  t.equal(config.dataDir, '/data');
  t.same(config.secretKey, hex);
  t.equal(config.adminUser, 'root');
  t.equal(config.adminPassword, 's3cret');
  t.equal(config.bodyLimit, 1024);
  t.same(config.allowedGrantTypes, ['password', 'client_credentials']);
  t.equal(config.logLevel, 'warn');
  t.equal(config.dbPoolSize, 3);
  t.equal(config.dbTimeoutMs, 750);
  t.equal(config.tokenCommit, 'sync');
});

t.test('empty strings count as unset', async (t) => {
  const keys = [
    'PORT',
    'HOST',
    'DATABASE_URL',
    'DCR_DATA_DIR',
    'DCR_SECRET_KEY',
    'DCR_ADMIN_USER',
    'DCR_ADMIN_PASSWORD',
    'DCR_BODY_LIMIT',
    'DCR_ALLOWED_GRANT_TYPES',
    'LOG_LEVEL',
    'DCR_DB_POOL_SIZE',
    'DCR_DB_TIMEOUT_MS',
    'DCR_ISSUER',
    'DCR_ACCESS_TOKEN_TTL',
    'DCR_REFRESH_TOKEN_TTL',
    'DCR_APP_MANAGE_USERS',
    'DCR_AUTH_CACHE_TTL',
    'DCR_TOKEN_COMMIT',
  ];
  const blank = Object.fromEntries(keys.map((key) => [key, '']));
  t.same(loadConfig(blank, CWD), loadConfig({}, CWD));
  const undefinedValues = Object.fromEntries(keys.map((key) => [key, undefined]));
  t.same(loadConfig(undefinedValues, CWD), loadConfig({}, CWD));
});

t.test('PORT', async (t) => {
  const valid: [string, number][] = [
    ['0', 0],
    ['1', 1],
    ['9763', 9763],
    ['65535', 65535],
  ];
  for (const [value, expected] of valid) {
    t.equal(loadConfig({ PORT: value }, CWD).port, expected, `PORT=${value}`);
  }
  for (const value of ['abc', '70000', '65536', '-1', '1.5', 'true', '80abc']) {
    t.test(`PORT=${value} is rejected`, async (t) => {
      const err = configErrorOf(() => loadConfig({ PORT: value }, CWD));
      t.equal(err.name, 'ConfigError');
      t.match(err.message, /PORT/);
    });
  }
});

t.test('DATABASE_URL', async (t) => {
  for (const url of ['postgres://u:p@localhost:5432/db', 'postgresql://localhost/db', 'postgres://u:p@127.0.0.1:1/x']) {
    t.equal(loadConfig({ DATABASE_URL: url }, CWD).databaseUrl, url, url);
  }
  for (const url of ['mysql://u:p@localhost/db', 'localhost:5432', 'http://postgres', 'Postgres://x', ' postgres://x']) {
    t.test(`DATABASE_URL=${url} is rejected`, async (t) => {
      const err = configErrorOf(() => loadConfig({ DATABASE_URL: url }, CWD));
      t.match(err.message, /DATABASE_URL/);
    });
  }
});

t.test('DCR_SECRET_KEY', async (t) => {
  const key = randomBytes(32);
  const accepted: [string, string][] = [
    ['hex (64)', key.toString('hex')],
    ['upper-case hex', key.toString('hex').toUpperCase()],
    ['base64 (44, padded)', key.toString('base64')],
    ['base64url (43)', key.toString('base64url')],
    ['surrounded by white space', `  ${key.toString('base64')}\n`],
  ];
  for (const [label, value] of accepted) {
    const config = loadConfig({ DCR_SECRET_KEY: value }, CWD);
    t.ok(config.secretKey?.equals(key), label);
  }
  t.equal(key.toString('base64').length, 44);
  t.equal(key.toString('hex').length, 64);

  const short = randomBytes(16);
  const long = randomBytes(48);
  const rejected: [string, string][] = [
    ['too short', 'abc'],
    ['16 bytes of hex', short.toString('hex')],
    ['16 bytes of base64', short.toString('base64')],
    ['48 bytes of base64', long.toString('base64')],
    ['63 hex characters', key.toString('hex').slice(1)],
    ['65 hex characters', `${key.toString('hex')}a`],
    ['44 characters with a bad one', `${key.toString('base64').slice(0, 42)}!=`],
    ['a passphrase', 'correct horse battery staple correct horse battery staple'],
    ['white space only', '   '],
  ];
  for (const [label, value] of rejected) {
    t.test(`${label} is rejected`, async (t) => {
      const err = configErrorOf(() => loadConfig({ DCR_SECRET_KEY: value }, CWD));
      t.match(err.message, /DCR_SECRET_KEY/);
      t.notOk(err.message.includes(value.trim()) && value.trim().length > 3, 'the rejected value is not echoed');
    });
  }
});

t.test('parseSecretKey', async (t) => {
  const key = randomBytes(32);
  t.ok(parseSecretKey(key.toString('hex'))?.equals(key));
  t.ok(parseSecretKey(`${key.toString('base64')}\n`)?.equals(key), 'a key file with a trailing newline');
  t.equal(parseSecretKey(''), undefined);
  t.equal(parseSecretKey(randomBytes(31).toString('base64')), undefined);
});

t.test('DCR_ALLOWED_GRANT_TYPES', async (t) => {
  const cases: [string, string[]][] = [
    ['password', ['password']],
    ['password client_credentials', ['password', 'client_credentials']],
    ['password,client_credentials', ['password', 'client_credentials']],
    [' password , client_credentials\trefresh_token\n', ['password', 'client_credentials', 'refresh_token']],
    ['urn:ietf:params:oauth:grant-type:jwt-bearer', ['urn:ietf:params:oauth:grant-type:jwt-bearer']],
  ];
  for (const [value, expected] of cases) {
    t.same(loadConfig({ DCR_ALLOWED_GRANT_TYPES: value }, CWD).allowedGrantTypes, expected, JSON.stringify(value));
  }
  for (const value of [' ', ',', ' , ,\t']) {
    t.test(`${JSON.stringify(value)} is rejected`, async (t) => {
      const err = configErrorOf(() => loadConfig({ DCR_ALLOWED_GRANT_TYPES: value }, CWD));
      t.match(err.message, /DCR_ALLOWED_GRANT_TYPES/);
    });
  }
});

t.test('other bounds name their variable', async (t) => {
  const rejected: [string, string][] = [
    ['DCR_ADMIN_USER', 'a b'],
    ['DCR_ADMIN_USER', 'a:b'],
    ['DCR_ADMIN_USER', 'x'.repeat(65)],
    ['DCR_BODY_LIMIT', '1023'],
    ['DCR_BODY_LIMIT', '16777217'],
    ['DCR_BODY_LIMIT', 'lots'],
    ['LOG_LEVEL', 'loud'],
    ['DCR_DB_POOL_SIZE', '0'],
    ['DCR_DB_POOL_SIZE', '201'],
    ['DCR_DB_TIMEOUT_MS', '99'],
    ['DCR_DB_TIMEOUT_MS', '600001'],
    ['DCR_ADMIN_PASSWORD', 'x'.repeat(1025)],
    ['DCR_TOKEN_COMMIT', 'off'],
    ['DCR_TOKEN_COMMIT', 'ASYNC'],
  ];
  for (const [key, value] of rejected) {
    t.test(`${key}=${value.length > 20 ? `<${value.length} chars>` : value}`, async (t) => {
      const err = configErrorOf(() => loadConfig({ [key]: value }, CWD));
      t.ok(err.message.includes(key), err.message);
    });
  }
  t.equal(loadConfig({ LOG_LEVEL: 'silent' }, CWD).logLevel, 'silent');
  t.equal(loadConfig({ DCR_ADMIN_USER: 'ops.admin@example.com' }, CWD).adminUser, 'ops.admin@example.com');
});

t.test('DCR_PUBLIC_URL: the base of written URLs, and the default issuer', async (t) => {
  t.equal(loadConfig({}, CWD).publicUrl, 'http://127.0.0.1:9763');
  t.equal(loadConfig({ HOST: '0.0.0.0', PORT: '8080' }, CWD).publicUrl, 'http://localhost:8080', 'a wildcard bind address is not reachable');
  const config = loadConfig({ DCR_PUBLIC_URL: 'https://dcr.example.org/' }, CWD);
  t.equal(config.publicUrl, 'https://dcr.example.org', 'without its trailing slash');
  t.equal(config.issuer, 'https://dcr.example.org/oauth2/token', "the issuer follows it, at WSO2 IS's path");
  t.equal(loadConfig({}, CWD).issuer, 'http://127.0.0.1:9763/oauth2/token');
  t.equal(loadConfig({ DCR_PUBLIC_URL: 'https://a.example', DCR_ISSUER: 'https://b.example/x' }, CWD).issuer, 'https://b.example/x', 'DCR_ISSUER still overrides');
  t.equal(loadConfig({ DCR_ISSUER: 'https://b.example/x/' }, CWD).issuer, 'https://b.example/x/', 'as given: the gateway compares iss exactly');
});

t.test('DCR_JWT_ALG: RS256 by default, RS256, PS256 or ES256', async (t) => {
  t.equal(loadConfig({}, CWD).jwtAlg, 'RS256');
  for (const alg of ['RS256', 'PS256', 'ES256']) t.equal(loadConfig({ DCR_JWT_ALG: alg }, CWD).jwtAlg, alg);
  for (const alg of ['HS256', 'rs256', 'none', 'RS512']) {
    t.throws(() => loadConfig({ DCR_JWT_ALG: alg }, CWD), /DCR_JWT_ALG/, `${alg} refused, naming the variable`);
  }
  t.match(configErrorOf(() => loadConfig({ DCR_PUBLIC_URL: 'https://dcr.example.org/path' }, CWD)).message, /DCR_PUBLIC_URL/, 'no path');
  t.match(configErrorOf(() => loadConfig({ DCR_PUBLIC_URL: 'dcr.example.org' }, CWD)).message, /DCR_PUBLIC_URL/, 'a scheme is required');
});

t.test('DCR_TRUST_PROXY: off by default, a checked list of proxies', async (t) => {
  t.strictSame(loadConfig({}, CWD).trustProxy, []);
  t.strictSame(loadConfig({ DCR_TRUST_PROXY: '10.0.0.1, 192.168.0.0/16,fd00::/8, loopback' }, CWD).trustProxy, [
    '10.0.0.1',
    '192.168.0.0/16',
    'fd00::/8',
    'loopback',
  ]);
  for (const bad of ['true', '10.0.0.0/33', 'proxy.example', '10.0.0.1/8/9', ',']) {
    t.match(configErrorOf(() => loadConfig({ DCR_TRUST_PROXY: bad }, CWD)).message, /DCR_TRUST_PROXY/, `'${bad}' is refused`);
  }
});

t.test('DCR_APP_TOKENS_MANAGE_APPS: WSO2 default on', async (t) => {
  t.equal(loadConfig({}, CWD).appTokensManageApps, true);
  t.equal(loadConfig({ DCR_APP_TOKENS_MANAGE_APPS: 'false' }, CWD).appTokensManageApps, false);
  t.match(configErrorOf(() => loadConfig({ DCR_APP_TOKENS_MANAGE_APPS: 'maybe' }, CWD)).message, /DCR_APP_TOKENS_MANAGE_APPS/);
});
