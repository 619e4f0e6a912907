/**
 * Secrets at rest, and rotation of the secret key without downtime.
 * 1. After a full flow (users, apps, tokens of every grant, refreshes, a revocation), every table
 *    of the schema is dumped (`SELECT t::text`) and no client secret, password, access or refresh
 *    token, private signing key or secret key appears in it: not in plaintext, nor base64,
 *    base64url or hex.
 * 2. Rotation over an external PostgreSQL with real server processes: servers on the old key and
 *    on the new key (each holding the other in DCR_SECRET_KEY_PREVIOUS) serve clients side by side;
 *    `dcr secrets reencrypt` runs while both answer client-credentials requests (every one 200);
 *    afterwards every envelope names the new key, a second run re-encrypts nothing, and a server
 *    restarted with only the new key authenticates every client and signs JWTs.
 */
import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { createLocalJWKSet, jwtVerify, type JSONWebKeySet } from 'jose';
import t, { type Test } from 'tap';
import { SecretBox } from '../../src/crypto/secret-box.js';
import type { Database } from '../../src/db/database.js';
import { ADMIN_AUTH, ADMIN_PASSWORD, basic, buildTestApp, createUser } from '../fixtures/app.js';
import { testDatabase } from '../fixtures/db.js';
import { runCli } from '../fixtures/dcr-process.js';
import { basicAuth, freePort, startServer, waitExit, waitReady, type ServerProcess } from '../fixtures/server-process.js';

const FORM = 'application/x-www-form-urlencoded';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Every row of every table in the public schema, as PostgreSQL's text form of the row. */
async function dumpDatabase(db: Database): Promise<{ tables: string[]; rows: number; text: string }> {
  const { rows: tables } = await db.query<{ table_name: string }>(
    "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY 1",
  );
  const parts: string[] = [];
  for (const { table_name: table } of tables) {
    const { rows } = await db.query<{ row: string }>(`SELECT t::text AS row FROM "${table.replace(/"/g, '""')}" t`);
    for (const { row } of rows) parts.push(`${table}: ${row}`);
  }
  return { tables: tables.map((row) => row.table_name), rows: parts.length, text: parts.join('\n') };
}

/** The ways a secret could sit in a text dump. */
function encodings(secret: string): string[] {
  const utf8 = Buffer.from(secret, 'utf8');
  const forms = [secret, utf8.toString('base64'), utf8.toString('base64url'), utf8.toString('hex')];
  // Tokens are base64url of random bytes: those bytes, in hex or base64, would give them away too.
  if (/^[A-Za-z0-9_-]{40,}$/.test(secret)) {
    const bytes = Buffer.from(secret, 'base64url');
    forms.push(bytes.toString('hex'), bytes.toString('base64'));
  }
  return [...new Set(forms.map((form) => form.replace(/=+$/, '')))];
}

function assertNoPlaintext(t: Test, dump: string, secrets: Record<string, string>): void {
  const lower = dump.toLowerCase();
  const found: string[] = [];
  for (const [label, secret] of Object.entries(secrets)) {
    if (secret.length < 8) throw new Error(`${label} is too short to look for`);
    for (const form of encodings(secret)) {
      const hex = /^[0-9a-f]+$/.test(form);
      if (hex ? lower.includes(form) : dump.includes(form)) found.push(`${label} (${form === secret ? 'plaintext' : form.slice(0, 12)})`);
    }
  }
  t.same(found, [], `none of ${Object.keys(secrets).length} secrets is in the dump, in any encoding`);
}

interface Client {
  clientId: string;
  clientSecret: string;
}

async function registerIn(app: FastifyInstance, authorization: string, body: Record<string, unknown>): Promise<Client> {
  const res = await app.inject({ method: 'POST', url: '/client-registration/v0.17/register', headers: { authorization }, payload: body });
  if (res.statusCode !== 200) throw new Error(`register: ${res.statusCode} ${res.body}`);
  return res.json() as Client;
}

async function tokenIn(app: FastifyInstance, client: Client, params: Record<string, string>) {
  const res = await app.inject({
    method: 'POST',
    url: '/oauth2/token',
    headers: { 'content-type': FORM, authorization: basic(client.clientId, client.clientSecret) },
    payload: new URLSearchParams(params).toString(),
  });
  if (res.statusCode !== 200) throw new Error(`token: ${res.statusCode} ${res.body}`);
  return res.json() as { access_token: string; refresh_token?: string };
}

t.test('no secret in any table after a full flow', async (t) => {
  const { app, db, secrets } = await buildTestApp(t);
  const passwords = { alice: 'alice-Secret-Pw-1', bob: 'bob-Secret-Pw-22' };
  await createUser(app, 'alice', passwords.alice);
  await createUser(app, 'bob', passwords.bob);
  const opaque = await registerIn(app, ADMIN_AUTH, { clientName: 'at_rest_opaque', owner: 'alice', grantType: 'client_credentials password refresh_token' });
  const jwt = await registerIn(app, basic('bob', passwords.bob), { clientName: 'at_rest_jwt', owner: 'bob', grantType: 'password refresh_token', tokenType: 'JWT' });
  const plain = await registerIn(app, ADMIN_AUTH, { clientName: 'at_rest_cc', owner: 'admin', grantType: 'client_credentials' });

  const found: Record<string, string> = {
    'admin password': ADMIN_PASSWORD,
    'alice password': passwords.alice,
    'bob password': passwords.bob,
    'opaque client secret': opaque.clientSecret,
    'jwt client secret': jwt.clientSecret,
    'cc client secret': plain.clientSecret,
  };
  const scope = 'apim:dcr:app_manage';
  const a1 = await tokenIn(app, opaque, { grant_type: 'password', username: 'alice', password: passwords.alice, scope });
  const a2 = await tokenIn(app, opaque, { grant_type: 'refresh_token', refresh_token: a1.refresh_token! });
  const a3 = await tokenIn(app, opaque, { grant_type: 'client_credentials' });
  const b1 = await tokenIn(app, jwt, { grant_type: 'password', username: 'bob', password: passwords.bob, scope });
  const b2 = await tokenIn(app, jwt, { grant_type: 'refresh_token', refresh_token: b1.refresh_token! });
  const c1 = await tokenIn(app, plain, { grant_type: 'client_credentials' });
  Object.assign(found, {
    'opaque access (password)': a1.access_token,
    'opaque refresh (used)': a1.refresh_token!,
    'opaque access (refreshed)': a2.access_token,
    'opaque refresh (current)': a2.refresh_token!,
    'opaque access (client_credentials)': a3.access_token,
    'jwt access (password)': b1.access_token,
    'jwt access signature': b1.access_token.split('.')[2]!,
    'jwt refresh (used)': b1.refresh_token!,
    'jwt access (refreshed)': b2.access_token,
    'jwt refresh (current)': b2.refresh_token!,
    'cc access': c1.access_token,
  });
  // A revocation and an introspection, so that every token state is in the tables.
  const revoked = await app.inject({
    method: 'POST',
    url: '/oauth2/revoke',
    headers: { 'content-type': FORM, authorization: basic(opaque.clientId, opaque.clientSecret) },
    payload: new URLSearchParams({ token: a3.access_token }).toString(),
  });
  t.equal(revoked.statusCode, 200);

  // The private half of the signing key, opened the way the server opens it.
  const { rows: keys } = await db.query<{ kid: string; private_jwk_enc: string }>('SELECT kid, private_jwk_enc FROM signing_keys');
  for (const key of keys) {
    const jwk = JSON.parse(secrets.open(key.private_jwk_enc, `signing-key:${key.kid}`)) as { d: string };
    found[`signing key ${key.kid.slice(0, 8)} d`] = jwk.d;
  }

  const dump = await dumpDatabase(db);
  t.ok(dump.tables.includes('applications') && dump.tables.includes('refresh_tokens'), `tables dumped: ${dump.tables.join(', ')}`);
  t.ok(dump.rows > 10, `${dump.rows} rows`);
  assertNoPlaintext(t, dump.text, found);
  t.comment(`secrets at rest: ${JSON.stringify({ tables: dump.tables.length, rows: dump.rows, bytes: dump.text.length, secrets: Object.keys(found).length })}`);
});

// ---------------------------------------------------------------------------------------------

async function tokenOver(server: ServerProcess, client: Client, params: Record<string, string> = { grant_type: 'client_credentials' }) {
  const res = await fetch(`${server.baseUrl}/oauth2/token`, {
    method: 'POST',
    headers: { 'content-type': FORM, authorization: basicAuth(client.clientId, client.clientSecret) },
    body: new URLSearchParams(params).toString(),
    signal: AbortSignal.timeout(10_000),
  });
  return { status: res.status, body: (await res.json()) as { access_token?: string; error?: string } };
}

async function registerOver(server: ServerProcess, authorization: string, body: Record<string, unknown>) {
  const res = await fetch(`${server.baseUrl}/client-registration/v0.17/register`, {
    method: 'POST',
    headers: { authorization, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Client & Record<string, unknown> };
}

const ROTATION_ADMIN_PASSWORD = 'rotation-Admin-1';
const ROTATION_ADMIN = basicAuth('admin', ROTATION_ADMIN_PASSWORD);

t.test('rotating DCR_SECRET_KEY while servers run', async (t) => {
  const { url, db } = await testDatabase(t, { migrate: false });
  const oldKey = randomBytes(32).toString('base64');
  const newKey = randomBytes(32).toString('hex'); // the other accepted format
  const oldKid = SecretBox.keyId(Buffer.from(oldKey, 'base64'));
  const newKid = SecretBox.keyId(Buffer.from(newKey, 'hex'));
  const base = { DATABASE_URL: url, DCR_ADMIN_PASSWORD: ROTATION_ADMIN_PASSWORD, HOST: '127.0.0.1', LOG_LEVEL: 'warn' };
  const start = async (env: Record<string, string>) => {
    const server = startServer(t, { ...base, PORT: String(await freePort()), ...env });
    await waitReady(server, 60_000);
    return server;
  };
  const stop = async (server: ServerProcess) => {
    server.child.kill('SIGTERM');
    const exit = await waitExit(server, 20_000);
    t.equal(exit.code, 0, `server ${server.pid} stopped cleanly`);
  };

  // A server on the old key (it creates the signing key, sealed with the old key, and registers
  // the apps); it already knows the new key, as in the first step of a rolling rotation. Then a
  // server on the new key (knowing the old one) joins it: both serve side by side.
  const onOld = await start({ DCR_SECRET_KEY: oldKey, DCR_SECRET_KEY_PREVIOUS: newKey });
  const apps: Record<string, Client> = {};
  const registered = (async () => {
    for (const [name, extra] of [
      ['rot_a', {}],
      ['rot_b', {}],
      ['rot_c', {}],
      ['rot_jwt', { tokenType: 'JWT' }],
    ] as const) {
      const res = await registerOver(onOld, ROTATION_ADMIN, { clientName: name, owner: 'admin', grantType: 'client_credentials', ...extra });
      t.equal(res.status, 200, `${name} registered under the old key`);
      apps[name] = res.body;
    }
  })();
  const [onNew] = await Promise.all([start({ DCR_SECRET_KEY: newKey, DCR_SECRET_KEY_PREVIOUS: ` ${oldKey} ` }), registered]);
  const fresh = await registerOver(onNew, ROTATION_ADMIN, { clientName: 'rot_new', owner: 'admin', grantType: 'client_credentials' });
  t.equal(fresh.status, 200, 'an app registered on the new-key server');
  apps.rot_new = fresh.body;
  for (const [name, client] of Object.entries(apps)) {
    t.equal((await tokenOver(onOld, client)).status, 200, `${name}: client authentication on the old-key server`);
    t.equal((await tokenOver(onNew, client)).status, 200, `${name}: client authentication on the new-key server`);
  }

  // Client-credentials load on both servers while the secrets are re-encrypted.
  let stopped = false;
  const statuses = new Map<number, number>();
  const load = Promise.all(
    [onOld, onNew, onOld, onNew].map(async (server) => {
      while (!stopped) {
        for (const client of Object.values(apps)) {
          const { status } = await tokenOver(server, client);
          statuses.set(status, (statuses.get(status) ?? 0) + 1);
        }
      }
    }),
  );
  await sleep(300);
  const cliEnv = { DATABASE_URL: url, DCR_SECRET_KEY: newKey, DCR_SECRET_KEY_PREVIOUS: oldKey };
  const started = Date.now();
  const reencrypt = await runCli(['secrets', 'reencrypt', '--batch-size', '2'], cliEnv);
  const reencryptMs = Date.now() - started;
  await sleep(300);
  stopped = true;
  await load;
  t.equal(reencrypt.code, 0, `dcr secrets reencrypt: exit 0\n${reencrypt.stderr}`);
  t.match(reencrypt.stdout, new RegExp(`^re-encrypted 4 client secrets and 1 signing key under key ${newKid.replace(/[-]/g, '\\-')}\\n$`), reencrypt.stdout);
  t.match(reencrypt.stderr, /applications: 2\/4 re-encrypted/, 'progress is reported per batch');
  const counts = Object.fromEntries(statuses);
  t.same(Object.keys(counts), ['200'], `every client authentication during the re-encryption: 200 (${JSON.stringify(counts)})`);

  const kids = await db.query<{ kind: string; kid: string; n: string }>(
    `SELECT 'client secret' AS kind, split_part(client_secret_enc, '.', 2) AS kid, count(*) AS n FROM applications GROUP BY 1, 2
     UNION ALL SELECT 'signing key', split_part(private_jwk_enc, '.', 2), count(*) FROM signing_keys GROUP BY 1, 2`,
  );
  t.same(
    kids.rows.map((row) => `${row.kind}: ${row.kid} × ${row.n}`),
    [`client secret: ${newKid} × 5`, `signing key: ${newKid} × 1`],
    `every envelope names the new key ${newKid} (the old was ${oldKid})`,
  );
  for (const [name, client] of Object.entries(apps)) {
    t.equal((await tokenOver(onOld, client)).status, 200, `${name}: still authenticates on the old-key server after the re-encryption`);
  }

  // After: a server with only the new key starts while the others stop.
  const [again, wrong, rotateExternal, after] = await Promise.all([
    runCli(['secrets', 'reencrypt'], cliEnv),
    runCli(['secrets', 'reencrypt'], { DATABASE_URL: url, DCR_SECRET_KEY: randomBytes(32).toString('base64') }),
    runCli(['secrets', 'rotate-key'], cliEnv),
    start({ DCR_SECRET_KEY: newKey }),
    stop(onOld),
    stop(onNew),
  ]);
  t.equal(again.code, 0);
  t.match(again.stdout, /^re-encrypted 0 client secrets and 0 signing keys under key /, 'a second run re-encrypts nothing (idempotent)');
  t.equal(wrong.code, 1, 'with a key that opens nothing: exit 1');
  t.match(wrong.stderr, /dcr: 6 secrets are sealed with keys not in the keyring \(\S+: 6\): add those keys to DCR_SECRET_KEY_PREVIOUS/);
  t.equal(rotateExternal.code, 1, 'rotate-key refuses with DATABASE_URL / DCR_SECRET_KEY');
  t.match(rotateExternal.stderr, /dcr: rotate-key rotates the generated DCR_DATA_DIR\/secret.key/);

  for (const [name, client] of Object.entries(apps)) {
    const res = await tokenOver(after, client);
    t.equal(res.status, 200, `${name}: authenticates on a server with only the new key`);
    if (name === 'rot_jwt') {
      const jwks = (await (await fetch(`${after.baseUrl}/oauth2/jwks`)).json()) as JSONWebKeySet;
      const verified = await jwtVerify(res.body.access_token!, createLocalJWKSet(jwks));
      t.equal(verified.payload.client_id, client.clientId, 'its JWT is signed with the re-encrypted signing key and verifies');
    }
  }
  const same = await registerOver(after, ROTATION_ADMIN, { clientName: 'rot_a', owner: 'admin', grantType: 'client_credentials' });
  t.equal(same.body.clientSecret, apps.rot_a!.clientSecret, 'a repeated registration answers the same secret (it decrypts)');
  t.notOk(after.stderr().includes('No key with id'), 'no envelope the new key could not open');

  // The database alone gives none of it away.
  const dump = await dumpDatabase(db);
  const lookFor: Record<string, string> = {
    'old key': oldKey,
    'old key (hex)': Buffer.from(oldKey, 'base64').toString('hex'),
    'new key': newKey,
    'new key (base64)': Buffer.from(newKey, 'hex').toString('base64'),
    'admin password': ROTATION_ADMIN_PASSWORD,
  };
  for (const [name, client] of Object.entries(apps)) lookFor[`${name} secret`] = client.clientSecret;
  assertNoPlaintext(t, dump.text, lookFor);
  t.comment(`rotation: ${JSON.stringify({ reencrypt_ms: reencryptMs, token_requests_during: [...statuses.values()].reduce((a, b) => a + b, 0), statuses: counts })}`);
});
