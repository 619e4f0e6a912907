import { randomUUID } from 'node:crypto';
import { createLocalJWKSet, decodeJwt, jwtVerify, type JSONWebKeySet } from 'jose';
import t from 'tap';
import { ADMIN_AUTH, basic, buildTestApp, FAST_HASHER, PUBLIC_URL } from '../fixtures/app.js';

// Tenant-qualified URLs and `user@domain` (reference §8), on the wire: a tenant's apps, tokens,
// keys and issuer are its own, and nothing crosses from one tenant to another.

const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();
const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

t.test('tenants under /t/{domain}/ and user@domain', async (t) => {
  const { app, db, services } = await buildTestApp(t);
  await db.query("INSERT INTO tenants (id, domain) VALUES (1, 'a.com'), (2, 'b.com')");
  const hash = await FAST_HASHER.hash('tenant-Pa55');
  for (const tenant of [1, 2]) {
    await db.query('INSERT INTO users (id, username, password_hash, tenant_id) VALUES ($1, $2, $3, $4)', [randomUUID(), 'admin', hash, tenant]);
  }
  const aAdmin = basic('admin@a.com', 'tenant-Pa55');

  const register = async (auth: string, clientName: string, owner: string) => {
    const res = await app.inject({
      method: 'POST',
      url: '/client-registration/v0.17/register',
      headers: { authorization: auth, 'content-type': 'application/json' },
      payload: { clientName, owner, grantType: 'client_credentials', saasApp: false, tokenType: 'JWT' },
    });
    return { status: res.statusCode, body: res.json() as { clientId: string; clientSecret: string; appOwner: string } };
  };

  const aApp = await register(aAdmin, 'shared-name', 'admin@a.com');
  t.equal(aApp.status, 200, 'v0.17 registers in the tenant of admin@a.com (200, as WSO2 answers a new app)');
  t.equal(aApp.body.appOwner, 'admin', "the owner is a.com's admin, stored by its name in a.com");
  const superApp = await register(ADMIN_AUTH, 'shared-name', 'admin');
  t.equal(superApp.status, 200, "the same name in the super tenant is another app (names are unique per tenant)");
  const stored = await db.query<{ tenant_id: number; client_id: string }>("SELECT tenant_id, client_id FROM applications WHERE client_name = 'shared-name' ORDER BY tenant_id");
  t.same(stored.rows.map((r) => r.tenant_id), [-1234, 1]);

  const clientAuth = basic(aApp.body.clientId, aApp.body.clientSecret);
  const token = async (url: string, auth = clientAuth) =>
    app.inject({ method: 'POST', url, headers: { ...FORM, authorization: auth }, payload: form({ grant_type: 'client_credentials' }) });

  const issued = await token('/t/a.com/oauth2/token');
  t.equal(issued.statusCode, 200);
  const jwt = (issued.json() as { access_token: string }).access_token;
  t.equal(decodeJwt(jwt).iss, `${PUBLIC_URL}/t/a.com/oauth2/token`, "the tenant's issuer");

  t.test("a tenant's token verifies with its JWKS only", async (t) => {
    const jwks = async (url: string) => (await app.inject({ method: 'GET', url })).json() as JSONWebKeySet;
    const own = await jwks('/t/a.com/oauth2/jwks');
    const { payload } = await jwtVerify(jwt, createLocalJWKSet(own), { issuer: `${PUBLIC_URL}/t/a.com/oauth2/token`, algorithms: ['RS256'] });
    t.equal(payload.azp, aApp.body.clientId);
    const others = await jwks('/oauth2/jwks');
    t.ok(others.keys.length > 0);
    t.notOk(others.keys.some((key) => own.keys.some((mine) => mine.kid === key.kid)), 'no key is shared with the super tenant');
    await t.rejects(jwtVerify(jwt, createLocalJWKSet(others)), 'the super tenant JWKS does not verify it');
  });

  t.test("a client of one tenant is unknown in another", async (t) => {
    t.equal((await token('/oauth2/token')).statusCode, 401);
    t.equal((await token('/t/b.com/oauth2/token')).statusCode, 401);
  });

  t.test("a tenant's token is inactive at another's introspection", async (t) => {
    const introspect = (url: string, auth: string) =>
      app.inject({ method: 'POST', url, headers: { ...FORM, authorization: auth }, payload: form({ token: jwt }) });
    const own = await introspect('/t/a.com/oauth2/introspect', clientAuth);
    t.equal(own.statusCode, 200);
    t.match(own.json(), { active: true, iss: `${PUBLIC_URL}/t/a.com/oauth2/token`, client_id: aApp.body.clientId });
    const atSuper = await introspect('/oauth2/introspect', ADMIN_AUTH);
    t.same(atSuper.json(), { active: false });
    const bApp = await register(basic('admin@b.com', 'tenant-Pa55'), 'b-app', 'admin@b.com');
    t.equal(bApp.status, 200);
    const atB = await introspect('/t/b.com/oauth2/introspect', basic(bApp.body.clientId, bApp.body.clientSecret));
    t.equal(atB.statusCode, 200);
    t.same(atB.json(), { active: false });
  });

  t.test('a sign-in name of another tenant than the path is refused', async (t) => {
    const res = await app.inject({ method: 'GET', url: '/t/b.com/scim2/Me', headers: { authorization: aAdmin } });
    t.equal(res.statusCode, 401);
    const own = await app.inject({ method: 'GET', url: '/t/a.com/scim2/Me', headers: { authorization: aAdmin } });
    t.equal(own.statusCode, 200);
  });

  t.test("discovery at a tenant's issuer describes that tenant", async (t) => {
    const issuer = `${PUBLIC_URL}/t/a.com/oauth2/token`;
    for (const url of ['/t/a.com/oauth2/token/.well-known/openid-configuration', '/t/a.com/.well-known/openid-configuration', '/t/a.com/.well-known/oauth-authorization-server']) {
      const res = await app.inject({ method: 'GET', url });
      t.equal(res.statusCode, 200, url);
      t.match(res.json(), {
        issuer,
        token_endpoint: `${PUBLIC_URL}/t/a.com/oauth2/token`,
        jwks_uri: `${PUBLIC_URL}/t/a.com/oauth2/jwks`,
        introspection_endpoint: `${PUBLIC_URL}/t/a.com/oauth2/introspect`,
        revocation_endpoint: `${PUBLIC_URL}/t/a.com/oauth2/revoke`,
        registration_endpoint: `${PUBLIC_URL}/t/a.com/api/identity/oauth2/dcr/v1.1/register`,
      }, url);
    }
    const root = (await app.inject({ method: 'GET', url: '/.well-known/openid-configuration' })).json() as { issuer: string };
    t.equal(root.issuer, `${PUBLIC_URL}/oauth2/token`, "the super tenant's document is unchanged");
  });

  t.test('an unknown tenant is 404', async (t) => {
    const res = await app.inject({ method: 'GET', url: '/t/nowhere.example/oauth2/jwks' });
    t.equal(res.statusCode, 404);
  });

  t.test('a deactivated tenant: its tokens are inactive and its sign-ins fail', async (t) => {
    await db.query("UPDATE tenants SET active = false WHERE domain = 'a.com'");
    services.tenants.forget('a.com');
    const introspected = await app.inject({ method: 'POST', url: '/t/a.com/oauth2/introspect', headers: { ...FORM, authorization: clientAuth }, payload: form({ token: jwt }) });
    t.same(introspected.json(), { active: false });
    t.equal((await token('/t/a.com/oauth2/token')).statusCode, 401);
    const registered = await register(aAdmin, 'another', 'admin@a.com');
    t.equal(registered.status, 401, 'admin@a.com no longer signs in');
    const me = await app.inject({ method: 'GET', url: '/t/a.com/scim2/Me', headers: { authorization: `Bearer ${jwt}` } });
    t.equal(me.statusCode, 401);
  });
});

t.test("SaaS apps: another tenant's users sign in, to a SaaS app only", async (t) => {
  const { app, db } = await buildTestApp(t);
  await db.query("INSERT INTO tenants (id, domain) VALUES (1, 'a.com'), (2, 'b.com')");
  const hash = await FAST_HASHER.hash('tenant-Pa55');
  await db.query('INSERT INTO users (id, username, password_hash, tenant_id) VALUES ($1, $2, $3, 1)', [randomUUID(), 'admin', hash]);
  await db.query('INSERT INTO users (id, username, password_hash, tenant_id) VALUES ($1, $2, $3, 2)', [randomUUID(), 'bob', hash]);
  const registered: Record<string, { clientId: string; clientSecret: string }> = {};
  for (const saasApp of [true, false]) {
    const res = await app.inject({
      method: 'POST',
      url: '/client-registration/v0.17/register',
      headers: { authorization: basic('admin@a.com', 'tenant-Pa55'), 'content-type': 'application/json' },
      payload: { clientName: `app-${saasApp}`, owner: 'admin@a.com', grantType: 'password refresh_token', saasApp, tokenType: 'JWT' },
    });
    t.equal(res.statusCode, 200);
    registered[String(saasApp)] = res.json();
  }
  const password = (client: { clientId: string; clientSecret: string }, username: string) =>
    app.inject({
      method: 'POST',
      url: '/t/a.com/oauth2/token',
      headers: { ...FORM, authorization: basic(client.clientId, client.clientSecret) },
      payload: form({ grant_type: 'password', username, password: 'tenant-Pa55' }),
    });

  const refused = await password(registered.false!, 'bob@b.com');
  t.equal(refused.statusCode, 400);
  t.match(refused.json(), { error: 'invalid_grant', error_description: /not a SaaS application/ });

  const issued = await password(registered.true!, 'bob@b.com');
  t.equal(issued.statusCode, 200);
  const body = issued.json() as { access_token: string; refresh_token: string };
  t.match(decodeJwt(body.access_token), { sub: 'bob@b.com', iss: `${PUBLIC_URL}/t/a.com/oauth2/token`, aut: 'APPLICATION_USER' }, "a.com's token acting for bob@b.com");
  const saasClient = basic(registered.true!.clientId, registered.true!.clientSecret);
  const introspected = await app.inject({ method: 'POST', url: '/t/a.com/oauth2/introspect', headers: { ...FORM, authorization: saasClient }, payload: form({ token: body.access_token }) });
  t.match(introspected.json(), { active: true, username: 'bob@b.com', sub: 'bob@b.com' });
  const refreshed = await app.inject({
    method: 'POST',
    url: '/t/a.com/oauth2/token',
    headers: { ...FORM, authorization: saasClient },
    payload: form({ grant_type: 'refresh_token', refresh_token: body.refresh_token }),
  });
  t.equal(refreshed.statusCode, 200, 'the refresh continues as bob@b.com');
  t.match(decodeJwt((refreshed.json() as { access_token: string }).access_token), { sub: 'bob@b.com' });
  const wrong = await password(registered.true!, 'bob@nowhere.example');
  t.equal(wrong.statusCode, 400, 'a name whose suffix is no tenant is a name of a.com, which has no such user');
  const stored = await db.query<{ tenant_id: number; subject: string }>('SELECT tenant_id, subject FROM access_tokens ORDER BY issued_at');
  t.same([...new Set(stored.rows.map((r) => `${r.tenant_id}:${r.subject}`))], ['1:bob@b.com'], "the tokens are a.com's, each naming bob@b.com");
});

t.test("a tenant's owner administers that tenant, and only that one", async (t) => {
  const { app } = await buildTestApp(t, { appManageUsers: ['alice'] });
  const created = await app.inject({
    method: 'POST',
    url: '/api/server/v1/tenants',
    headers: { authorization: ADMIN_AUTH, 'content-type': 'application/json' },
    payload: { domain: 'abc.com', owners: [{ username: 'kim', password: 'kim-Tenant-Pa55', email: 'kim@abc.com', firstname: 'Kim', lastname: 'Lee' }] },
  });
  t.equal(created.statusCode, 201);
  const kim = basic('kim@abc.com', 'kim-Tenant-Pa55');
  const scim = (auth: string, url: string, payload?: object) =>
    app.inject({
      method: payload === undefined ? 'GET' : 'POST',
      url,
      headers: { authorization: auth, 'content-type': 'application/scim+json' },
      ...(payload === undefined ? {} : { payload }),
    });
  const user = (userName: string) => ({ schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName, password: 'member-Pa55' });
  t.equal((await scim(kim, '/t/abc.com/scim2/Users', user('bob'))).statusCode, 201, 'kim creates users in abc.com');
  t.equal((await scim(kim, '/scim2/Users', user('alice'))).statusCode, 201, 'and in v0.17 style, kim@abc.com without a path: still abc.com');
  const listed = (await scim(kim, '/t/abc.com/scim2/Users')).json() as { Resources: { userName: string }[] };
  t.same(listed.Resources.map((r) => r.userName).sort(), ['alice', 'bob', 'kim'], "abc.com's users, none of the super tenant's");
  const superUsers = (await scim(ADMIN_AUTH, '/scim2/Users')).json() as { Resources: { userName: string }[] };
  t.same(superUsers.Resources.map((r) => r.userName), ['admin'], "the super tenant's users: its admin only");

  const registered = await app.inject({
    method: 'POST',
    url: '/client-registration/v0.17/register',
    headers: { authorization: kim, 'content-type': 'application/json' },
    payload: { clientName: 'bobs-app', owner: 'bob@abc.com', grantType: 'password client_credentials' },
  });
  t.equal(registered.statusCode, 200, "kim registers for bob, as the super admin does for the super tenant's users");
  t.equal((registered.json() as { appOwner: string }).appOwner, 'bob');

  const kimId = (created.headers.location as string).split('/').pop();
  t.ok(kimId);
  const owners = await app.inject({ method: 'GET', url: `/api/server/v1/tenants/${kimId}/owners`, headers: { authorization: ADMIN_AUTH } });
  const [owner] = owners.json() as { id: string }[];
  const removed = await app.inject({ method: 'DELETE', url: `/t/abc.com/scim2/Users/${owner!.id}`, headers: { authorization: kim } });
  t.equal(removed.statusCode, 403, "the tenant's owner is not deleted");

  // DCR_APP_MANAGE_USERS=alice names the super tenant's alice: abc.com's alice gets nothing from it.
  const alice = basic('alice@abc.com', 'member-Pa55');
  const roles = await app.inject({ method: 'GET', url: '/t/abc.com/scim2/v2/Roles', headers: { authorization: alice } });
  t.equal(roles.statusCode, 403, "abc.com's alice is not the listed alice");
  const kimRoles = await app.inject({ method: 'GET', url: '/t/abc.com/scim2/v2/Roles', headers: { authorization: kim } });
  t.equal(kimRoles.statusCode, 200, 'kim manages roles in abc.com');
  const tenants = await app.inject({ method: 'GET', url: '/api/server/v1/tenants', headers: { authorization: kim } });
  t.equal(tenants.statusCode, 403, 'but tenants are the super admin\'s');
});
