/**
 * Two server processes over one PostgreSQL (same DCR_SECRET_KEY), started at the same moment:
 * - concurrent registrations of the same names through both: one app per name, and every caller
 *   gets the same credentials;
 * - a token issued by one is accepted on /register, introspected and revoked through the other,
 *   and the revocation is seen at once by both;
 * - JWTs from either verify with either's /oauth2/jwks (jose createLocalJWKSet), also after
 *   `dcr keys rotate` ran against that database;
 * - a tenant's first tokens, asked of both at once, are signed with one key of that tenant, which
 *   both publish; both see the tenant's deactivation within the tenant directory's cache time.
 */
import { randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose';
import t, { type Test } from 'tap';
import { PasswordHasher } from '../../src/crypto/passwords.js';
import { MIGRATIONS_DIR } from '../../src/db/migrate.js';
import { testDatabase } from '../fixtures/db.js';
import { runCli } from '../fixtures/dcr-process.js';
import { basicAuth, freePort, startServer, waitReady, type ServerProcess } from '../fixtures/server-process.js';

const ADMIN_PASSWORD = 'two-Admin-Pa55';
const ADMIN = basicAuth('admin', ADMIN_PASSWORD);
const ALICE_PASSWORD = 'alice-Two-Pa55';
const SCOPE = 'apim:dcr:app_manage';
const FORM = 'application/x-www-form-urlencoded';

interface Client {
  clientId: string;
  clientSecret: string;
  [key: string]: unknown;
}

async function register(server: ServerProcess, authorization: string, body: Record<string, unknown>) {
  const res = await fetch(`${server.baseUrl}/client-registration/v0.17/register`, {
    method: 'POST',
    headers: { authorization, 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
  });
  return { status: res.status, body: (await res.json()) as Client };
}

async function form(server: ServerProcess, route: string, client: Client, params: Record<string, string>) {
  const res = await fetch(`${server.baseUrl}${route}`, {
    method: 'POST',
    headers: { 'content-type': FORM, authorization: basicAuth(client.clientId, client.clientSecret) },
    body: new URLSearchParams(params).toString(),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : {}) as Record<string, unknown> };
}

async function jwks(server: ServerProcess): Promise<JSONWebKeySet> {
  return (await (await fetch(`${server.baseUrl}/oauth2/jwks`)).json()) as JSONWebKeySet;
}

t.test('two instances over one database', async (t) => {
  const { url, db } = await testDatabase(t, { migrate: false });
  const env = {
    DATABASE_URL: url,
    DCR_SECRET_KEY: randomBytes(32).toString('base64'),
    DCR_ADMIN_PASSWORD: ADMIN_PASSWORD,
    // One issuer for the deployment, as behind a load balancer. Left unset, each instance's issuer
    // is its own http://HOST:PORT, and a JWT from one fails the other's `iss` check (401).
    DCR_ISSUER: 'http://dcr.two-instances.test',
    // The same for tenants' issuers, which derive from the public URL (issue 21).
    DCR_PUBLIC_URL: 'http://dcr.two-instances.test',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'warn',
  };
  // Both start at once on an empty database: migrations, the first signing key and the super
  // admin are each created once.
  const [a, b] = await Promise.all(
    [0, 1].map(async () => {
      const server = startServer(t, { ...env, PORT: String(await freePort()) });
      await waitReady(server, 60_000);
      return server;
    }),
  );
  const servers = { a: a!, b: b! };
  const { rows: boot } = await db.query<{ users: string; keys: string; migrations: string }>(
    `SELECT (SELECT count(*) FROM users) AS users, (SELECT count(*) FROM signing_keys) AS keys,
            (SELECT count(*) FROM pgmigrations) AS migrations`,
  );
  const migrations = String(readdirSync(MIGRATIONS_DIR).filter((file) => file.endsWith('.sql')).length);
  t.same(boot[0], { users: '1', keys: '1', migrations }, 'one admin, one signing key, each migration once');

  // A user, created through A, who logs in through B.
  const created = await fetch(`${servers.a.baseUrl}/scim2/Users`, {
    method: 'POST',
    headers: { authorization: ADMIN, 'content-type': 'application/scim+json' },
    body: JSON.stringify({ schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName: 'alice', password: ALICE_PASSWORD }),
  });
  t.equal(created.status, 201);

  await t.test('concurrent registrations of the same names through both: one app each, same credentials for all', async (t) => {
    const names = ['race_1', 'race_2', 'race_3', 'race_4', 'race_5'];
    const attempts = names.flatMap((name) =>
      Array.from({ length: 12 }, (_, i) => ({
        name,
        server: i % 2 === 0 ? servers.a : servers.b,
        // Half as the owner, half as the super admin on the owner's behalf: both get the app.
        auth: i % 4 < 2 ? basicAuth('alice', ALICE_PASSWORD) : ADMIN,
      })),
    );
    const results = await Promise.all(
      attempts.map(async (attempt) => ({ ...attempt, res: await register(attempt.server, attempt.auth, { clientName: attempt.name, owner: 'alice', grantType: 'password refresh_token' }) })),
    );
    t.same([...new Set(results.map((r) => r.res.status))], [200], `${results.length} concurrent registrations: all 200`);
    for (const name of names) {
      const answers = results.filter((r) => r.name === name).map((r) => `${r.res.body.clientId}:${r.res.body.clientSecret}`);
      t.equal(new Set(answers).size, 1, `${name}: the same credentials for all ${answers.length} callers`);
    }
    const { rows } = await db.query<{ client_name: string; n: string }>(
      'SELECT client_name, count(*) AS n FROM applications WHERE client_name LIKE $1 GROUP BY 1 ORDER BY 1',
      ['race\\_%'],
    );
    t.same(rows.map((row) => `${row.client_name}=${row.n}`), names.map((name) => `${name}=1`), 'one row per name');
  });

  for (const tokenType of ['DEFAULT', 'JWT']) {
    await t.test(`${tokenType} token issued by A: used, introspected and revoked through B`, async (t) => {
      const app = await register(servers.a, ADMIN, { clientName: `cross_${tokenType}`, owner: 'alice', grantType: 'password refresh_token', tokenType });
      t.equal(app.status, 200);
      const client = app.body;
      const issued = await form(servers.a, '/oauth2/token', client, { grant_type: 'password', username: 'alice', password: ALICE_PASSWORD, scope: SCOPE });
      t.equal(issued.status, 200, 'issued by A');
      const token = String(issued.body.access_token);
      const bearer = `Bearer ${token}`;
      t.equal((await register(servers.b, bearer, { clientName: `by_bearer_${tokenType}`, owner: 'alice', grantType: 'password' })).status, 200, 'accepted on B’s /register');
      const introspected = await form(servers.b, '/oauth2/introspect', client, { token });
      t.match(introspected.body, { active: true, username: 'alice', client_id: client.clientId, scope: SCOPE }, 'introspected through B: active');
      const revoked = await form(servers.b, '/oauth2/revoke', client, { token });
      t.equal(revoked.status, 200, 'revoked through B');
      for (const [label, server] of Object.entries(servers)) {
        t.equal((await register(server, bearer, { clientName: `by_bearer_${tokenType}`, owner: 'alice', grantType: 'password' })).status, 401, `${label.toUpperCase()}: 401 at once`);
        t.equal((await form(server, '/oauth2/introspect', client, { token })).body.active, false, `${label.toUpperCase()}: introspection inactive at once`);
      }
      // The refresh token issued by A is refreshed through B.
      const refreshed = await form(servers.b, '/oauth2/token', client, { grant_type: 'refresh_token', refresh_token: String(issued.body.refresh_token) });
      t.equal(refreshed.status, 200, 'A’s refresh token refreshed through B');
      t.equal((await register(servers.a, `Bearer ${String(refreshed.body.access_token)}`, { clientName: `by_bearer_${tokenType}`, owner: 'alice', grantType: 'password' })).status, 200, 'and that token works on A');
    });
  }

  await t.test("a tenant: one key for its first tokens through both, the same JWKS, its deactivation seen by both", async (t) => {
    await db.query("INSERT INTO tenants (id, domain) VALUES (10, 'two.test')");
    const hash = await new PasswordHasher().hash('tenant-Two-Pa55');
    await db.query("INSERT INTO users (id, username, password_hash, tenant_id) VALUES (gen_random_uuid(), 'admin', $1, 10)", [hash]);
    const tenantAdmin = basicAuth('admin@two.test', 'tenant-Two-Pa55');
    const app = await register(servers.b, tenantAdmin, { clientName: 'tenant_app', owner: 'admin@two.test', grantType: 'client_credentials', tokenType: 'JWT' });
    t.equal(app.status, 200, 'registered in the tenant through B');
    const client = app.body;
    const tokens = await Promise.all(
      Array.from({ length: 10 }, async (_, i) => {
        const res = await form(i % 2 === 0 ? servers.a : servers.b, '/t/two.test/oauth2/token', client, { grant_type: 'client_credentials' });
        t.equal(res.status, 200);
        return String(res.body.access_token);
      }),
    );
    const { rows } = await db.query<{ n: string }>('SELECT count(*) AS n FROM signing_keys WHERE tenant_id = 10');
    t.equal(rows[0]!.n, '1', "ten first tokens at once through both instances: one key for the tenant");
    const sets = await Promise.all(Object.values(servers).map(async (server) => (await (await fetch(`${server.baseUrl}/t/two.test/oauth2/jwks`)).json()) as JSONWebKeySet));
    t.same(sets[0], sets[1], "both publish the same tenant JWKS");
    for (const token of tokens) {
      const { payload } = await jwtVerify(token, createLocalJWKSet(sets[0]!), { issuer: 'http://dcr.two-instances.test/t/two.test/oauth2/token' });
      t.equal(payload.client_id, client.clientId);
    }
    // The tenant's keys rotate on their own: the super tenant's stay as they are.
    const superKids = (await jwks(servers.a)).keys.map((key) => key.kid);
    const rotated = await runCli(['keys', 'rotate', '--tenant', 'two.test'], { DATABASE_URL: url, DCR_SECRET_KEY: env.DCR_SECRET_KEY });
    t.equal(rotated.code, 0, `dcr keys rotate --tenant two.test: exit 0\n${rotated.stderr}`);
    for (const server of Object.values(servers)) {
      const kids = ((await (await fetch(`${server.baseUrl}/t/two.test/oauth2/jwks`)).json()) as JSONWebKeySet).keys.map((key) => key.kid);
      t.same(kids.sort(), [rotated.stdout.trim(), decodeProtectedHeader(tokens[0]!).kid].sort(), "the tenant's JWKS: its new key and its retired one");
    }
    t.same((await jwks(servers.b)).keys.map((key) => key.kid), superKids, "the super tenant's JWKS is untouched");
    const introspect = (server: ServerProcess) => form(server, '/t/two.test/oauth2/introspect', client, { token: tokens[0]! });
    t.equal((await introspect(servers.a)).body.active, true);
    await db.query("UPDATE tenants SET active = false WHERE id = 10");
    // Each instance remembers a tenant for 5 s (src/services/tenant-directory.ts).
    const deadline = Date.now() + 15_000;
    const seen = { a: false, b: false };
    while ((!seen.a || !seen.b) && Date.now() < deadline) {
      for (const [label, server] of Object.entries(servers) as ['a' | 'b', ServerProcess][]) {
        if (!seen[label] && (await introspect(server)).body.active === false) seen[label] = true;
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    t.same(seen, { a: true, b: true }, "both see the tenant deactivated: its token inactive at either");
  });

  await t.test('JWTs from either instance verify with either’s JWKS, also after dcr keys rotate', async (t) => {
    const app = await register(servers.a, ADMIN, { clientName: 'jwks_app', owner: 'alice', grantType: 'password client_credentials', tokenType: 'JWT' });
    const client = app.body;
    const issue = async (server: ServerProcess) => {
      const res = await form(server, '/oauth2/token', client, { grant_type: 'client_credentials' });
      t.equal(res.status, 200);
      return String(res.body.access_token);
    };
    const crossCheck = async (t: Test, tokens: Record<string, string>) => {
      const sets = { a: createLocalJWKSet(await jwks(servers.a)), b: createLocalJWKSet(await jwks(servers.b)) };
      for (const [from, token] of Object.entries(tokens)) {
        for (const [by, set] of Object.entries(sets)) {
          const verified = await jwtVerify(token, set).then(
            (result) => result.payload.client_id === client.clientId,
            (err: Error) => err.message,
          );
          t.equal(verified, true, `a JWT from ${from} (kid ${decodeProtectedHeader(token).kid?.slice(0, 8)}) verifies with ${by.toUpperCase()}'s JWKS`);
        }
      }
    };
    const before = { 'A before': await issue(servers.a), 'B before': await issue(servers.b) };
    await crossCheck(t, before);

    const rotated = await runCli(['keys', 'rotate'], { DATABASE_URL: url, DCR_SECRET_KEY: env.DCR_SECRET_KEY });
    t.equal(rotated.code, 0, `dcr keys rotate: exit 0\n${rotated.stderr}`);
    const newKid = rotated.stdout.trim();
    for (const [label, server] of Object.entries(servers)) {
      const kids = (await jwks(server)).keys.map((key) => key.kid);
      t.ok(kids.includes(newKid) && kids.includes(decodeProtectedHeader(before['A before']).kid), `${label.toUpperCase()}'s JWKS lists the new key and the retired one at once`);
    }
    const after = { 'A after': await issue(servers.a), 'B after': await issue(servers.b) };
    await crossCheck(t, { ...before, ...after });
    for (const [from, token] of Object.entries({ ...before, ...after })) {
      for (const [label, server] of Object.entries(servers)) {
        const res = await form(server, '/oauth2/introspect', client, { token });
        t.equal(res.body.active, true, `${from} is active when introspected through ${label.toUpperCase()}`);
      }
    }
  });
});
