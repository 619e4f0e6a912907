/**
 * GET /scim2/Me and GET /scim2/Schemas (reference §7) through app.inject. API Manager reads /Me as
 * the user's information with the user's own bearer token, and /Schemas as a bare JSON array.
 */
import t, { type Test } from 'tap';
import type { LightMyRequestResponse } from 'fastify';
import { SCIM_SCHEMAS } from '../../src/http/handlers/scim-schemas.js';
import { ADMIN, ADMIN_AUTH, PUBLIC_URL, basic, buildTestApp, createUser } from '../fixtures/app.js';

const USER_URN = 'urn:ietf:params:scim:schemas:core:2.0:User';
const ROLE_URN = 'urn:ietf:params:scim:schemas:extension:2.0:Role';
const SCHEMA_URN = 'urn:ietf:params:scim:schemas:core:2.0:Schema';
const ERROR_URN = 'urn:ietf:params:scim:api:messages:2.0:Error';
const SCIM_TYPE = 'application/scim+json; charset=utf-8';
const FORM = 'application/x-www-form-urlencoded';

const { app, db } = await buildTestApp(t);
const ALICE_PASSWORD = 'alice-Pa55word';
const aliceId = await createUser(app, 'alice', ALICE_PASSWORD);

async function register(clientName: string, owner: string, auth: string, tokenType?: string) {
  const res = await app.inject({
    method: 'POST',
    url: '/client-registration/v0.17/register',
    headers: { authorization: auth },
    payload: { clientName, owner, grantType: 'password refresh_token client_credentials', ...(tokenType ? { tokenType } : {}) },
  });
  if (res.statusCode !== 200) throw new Error(`${res.statusCode} ${res.body}`);
  return res.json() as { clientId: string; clientSecret: string };
}

async function token(client: { clientId: string; clientSecret: string }, form: Record<string, string>) {
  const res = await app.inject({
    method: 'POST',
    url: '/oauth2/token',
    headers: { authorization: basic(client.clientId, client.clientSecret), 'content-type': FORM },
    payload: new URLSearchParams(form).toString(),
  });
  if (res.statusCode !== 200) throw new Error(`${res.statusCode} ${res.body}`);
  return res.json() as { access_token: string; refresh_token?: string };
}

/** An admin-owned app of each token format; alice logs in through them with the password grant. */
const clients = { jwt: await register('me-jwt', ADMIN, ADMIN_AUTH, 'JWT'), opaque: await register('me-opaque', ADMIN, ADMIN_AUTH) };
const adminId = (
  (await app.inject({ method: 'GET', url: `/scim2/Users?filter=${encodeURIComponent(`userName eq "${ADMIN}"`)}`, headers: { authorization: ADMIN_AUTH } })).json() as {
    Resources: { id: string }[];
  }
).Resources[0]!.id;

/** The caller as /scim2/Users/{id} shows that user. */
async function asUsersShowsIt(id: string): Promise<unknown> {
  return (await app.inject({ method: 'GET', url: `/scim2/Users/${id}`, headers: { authorization: ADMIN_AUTH } })).json();
}

/** As the connector sends it: a JSON content type with an empty body. */
const me = (authorization?: string) =>
  app.inject({ method: 'GET', url: '/scim2/Me', headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) }, payload: '' });

function assertUser(t: Test, res: LightMyRequestResponse, id: string, userName: string, same: unknown): void {
  t.equal(res.statusCode, 200, res.body);
  t.equal(res.headers['content-type'], SCIM_TYPE);
  t.equal(res.headers['cache-control'], 'no-store');
  const body = res.json() as { meta: { created: string; lastModified: string } };
  t.strictSame(body, {
    schemas: [USER_URN],
    id,
    userName,
    meta: { resourceType: 'User', created: body.meta.created, lastModified: body.meta.lastModified, location: `${PUBLIC_URL}/scim2/Users/${id}` },
  });
  t.strictSame(body, same, 'the shape and values of /scim2/Users/{id}');
}

function assertUnauthorized(t: Test, res: LightMyRequestResponse): void {
  t.equal(res.statusCode, 401, res.body);
  t.equal(res.headers['content-type'], SCIM_TYPE);
  t.equal(res.headers['cache-control'], 'no-store');
  t.ok(res.headers['www-authenticate'], 'a challenge');
  t.strictSame(res.json(), { schemas: [ERROR_URN], status: '401', detail: 'The user is not authorized' });
}

for (const [kind, client] of Object.entries(clients)) {
  t.test(`/scim2/Me with a ${kind} token`, async (t) => {
    const alice = await token(client, { grant_type: 'password', username: 'alice', password: ALICE_PASSWORD });
    const aliceUser = await asUsersShowsIt(aliceId);
    assertUser(t, await me(`Bearer ${alice.access_token}`), aliceId, 'alice', aliceUser);

    // The refresh grant continues alice's grant: its token is hers too.
    const refreshed = await token(client, { grant_type: 'refresh_token', refresh_token: alice.refresh_token! });
    assertUser(t, await me(`Bearer ${refreshed.access_token}`), aliceId, 'alice', aliceUser);

    // client_credentials acts for the application's owner (its sub): the owner is "me".
    const owners = await token(client, { grant_type: 'client_credentials' });
    assertUser(t, await me(`Bearer ${owners.access_token}`), adminId, ADMIN, await asUsersShowsIt(adminId));

    // Expired (as the database records it) and revoked tokens are no one.
    await db.query("UPDATE access_tokens SET expires_at = now() - interval '1 second' WHERE expires_at > now() AND user_id = $1", [aliceId]);
    assertUnauthorized(t, await me(`Bearer ${refreshed.access_token}`));
  });
}

t.test('/scim2/Me by HTTP Basic: the user themselves', async (t) => {
  assertUser(t, await me(basic('alice', ALICE_PASSWORD)), aliceId, 'alice', await asUsersShowsIt(aliceId));
});

t.test('/scim2/Me: no, wrong or malformed credentials are 401', async (t) => {
  const revoked = await token(clients.opaque, { grant_type: 'password', username: 'alice', password: ALICE_PASSWORD });
  const revoke = await app.inject({
    method: 'POST',
    url: '/oauth2/revoke',
    headers: { authorization: basic(clients.opaque.clientId, clients.opaque.clientSecret), 'content-type': FORM },
    payload: new URLSearchParams({ token: revoked.access_token }).toString(),
  });
  t.equal(revoke.statusCode, 200);
  const jwt = await token(clients.jwt, { grant_type: 'client_credentials' });
  const [header, payload] = jwt.access_token.split('.');
  for (const authorization of [
    undefined,
    `Bearer ${revoked.access_token}`,
    'Bearer 0123456789abcdef0123456789abcdef',
    `Bearer ${header}.${payload}.${'A'.repeat(342)}`,
    'Bearer',
    basic('alice', 'wrong'),
    `Basic ${Buffer.from(`${clients.opaque.clientId}:${clients.opaque.clientSecret}`).toString('base64')}`,
  ]) {
    assertUnauthorized(t, await me(authorization));
  }
});

t.test('/scim2/Schemas: a bare array of the schemas this server supports', async (t) => {
  const alice = await token(clients.jwt, { grant_type: 'password', username: 'alice', password: ALICE_PASSWORD });
  const cc = await token(clients.opaque, { grant_type: 'client_credentials' });
  for (const [name, authorization] of [
    ["a user's bearer token", `Bearer ${alice.access_token}`],
    ["an application's bearer token", `Bearer ${cc.access_token}`],
    ["the super admin's Basic credentials", ADMIN_AUTH],
    ["a user's Basic credentials", basic('alice', ALICE_PASSWORD)],
  ]) {
    const res = await app.inject({ method: 'GET', url: '/scim2/Schemas', headers: { authorization, 'content-type': 'application/json' }, payload: '' });
    t.equal(res.statusCode, 200, `${name}: ${res.body.slice(0, 200)}`);
    t.equal(res.headers['content-type'], SCIM_TYPE);
    t.equal(res.headers['cache-control'], 'no-store');
    const body = res.json() as { schemas: string[]; id: string; name: string; attributes: Record<string, unknown>[] }[];
    t.ok(Array.isArray(body), 'a bare array, not a ListResponse');
    t.strictSame(body, SCIM_SCHEMAS, 'every definition, whole, on the wire');
    t.strictSame(
      body.map((schema) => [schema.schemas, schema.id, schema.name, schema.attributes.map((attribute) => attribute.name)]),
      [
        [[SCHEMA_URN], USER_URN, 'User', ['userName', 'password']],
        [[SCHEMA_URN], ROLE_URN, 'Role', ['displayName', 'users', 'permissions']],
      ],
    );
  }
  const [user, role] = SCIM_SCHEMAS;
  t.match(user!.attributes[0], { name: 'userName', type: 'string', multiValued: false, required: true, caseExact: false, uniqueness: 'server' });
  t.match(user!.attributes[1], { name: 'password', mutability: 'writeOnly', returned: 'never' });
  t.match(role!.attributes[2], { name: 'permissions', type: 'complex', multiValued: true, subAttributes: [{ name: 'value' }, { name: 'display', mutability: 'readOnly' }] });
});

t.test('/scim2/Schemas without credentials, or with wrong ones: 401', async (t) => {
  for (const authorization of [undefined, 'Bearer 0123456789abcdef0123456789abcdef', basic(ADMIN, 'wrong')]) {
    assertUnauthorized(t, await app.inject({ method: 'GET', url: '/scim2/Schemas', headers: authorization ? { authorization } : {} }));
  }
});
