/**
 * A replay of WSO2 API Manager's WSO2-IS-7 Key Manager connector: every request it makes for each
 * API Manager action, in its order, as its HTTP client sends it (reference
 * ../shared/reference/wso2-key-manager.md §3-§7: `Content-Type: application/json` on every DCR,
 * api-resources and Roles call, GET and DELETE included with an empty body; `+` for spaces;
 * unquoted filters; the Gson create body with every zero lifetime and `false` flag; the role
 * create of displayName and permissions only and its PATCH `replace` of the full permission list),
 * with each answer asserted as the connector parses it. The subtests run in order and share the
 * server, as one API Manager drives one Key Manager:
 *
 *  1 Generate Keys (production and sandbox)          7 bind scopes to roles
 *  2 edit keys                                        8 generate an access token (role-based scopes)
 *  3 provide existing OAuth keys (mapping)            9 validate an opaque token (introspection)
 *  4 map keys API Manager already holds (presets)    10 backend-JWT user claims
 *  5 publish APIs with scopes                        11 remove keys
 *  6 update and delete a scope
 */
import { randomUUID } from 'node:crypto';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { decodeJwt } from 'jose';
import t, { type Test } from 'tap';
import { ADMIN, ADMIN_AUTH, ISSUER, basic, buildTestApp, createUser } from '../fixtures/app.js';
import { GSON_DEFAULTS } from '../fixtures/connector-body.js';

const DCR = '/api/identity/oauth2/dcr/v1.1/register';
const API_RESOURCES = '/api/server/v1/api-resources';
const ROLES = '/scim2/v2/Roles';
const RESOURCE_IDENTIFIER = 'User-defined-oauth2-resource';
const JSON_TYPE = 'application/json; charset=utf-8';
const FORM = 'application/x-www-form-urlencoded';

const { app } = await buildTestApp(t);
const CAROL_PASSWORD = 'carol-Pa55word';
const carolId = await createUser(app, 'carol', CAROL_PASSWORD);

/** A call as the connector's HTTP client makes it: the Key Manager admin's Basic credentials, JSON content type always. */
function connector(method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', url: string, body?: unknown, auth = ADMIN_AUTH) {
  return app.inject({ method, url, headers: { authorization: auth, 'content-type': 'application/json' }, payload: body === undefined ? '' : JSON.stringify(body) });
}

/** The token endpoint as the Developer Portal's "Generate access token" calls it. */
function tokenRequest(clientId: string, clientSecret: string, form: Record<string, string>) {
  return app.inject({ method: 'POST', url: '/oauth2/token', headers: { authorization: basic(clientId, clientSecret), 'content-type': FORM }, payload: new URLSearchParams(form).toString() });
}

function introspect(token: string) {
  return app.inject({
    method: 'POST',
    url: '/oauth2/introspect',
    headers: { authorization: ADMIN_AUTH, 'x-wso2-tenant': 'carbon.super', 'content-type': FORM },
    payload: new URLSearchParams({ token }).toString(),
  });
}

/** What API Manager's application UUID-based names look like (`<owner>_<uuid>_<PRODUCTION|SANDBOX>`). */
const applicationUuid = randomUUID();

/**
 * The create body exactly as the connector's Gson writes it (reference §3): primitive fields are
 * serialised even when unset, so every zero lifetime and `false` flag arrives.
 */
function gsonCreateBody(keyType: 'PRODUCTION' | 'SANDBOX', extra: Record<string, unknown> = {}) {
  return {
    client_name: `${ADMIN}_${applicationUuid}_${keyType}`,
    ext_application_display_name: 'Orders',
    grant_types: ['client_credentials', 'password', 'refresh_token'],
    redirect_uris: ['https://orders.example.com/callback'],
    token_type_extension: 'JWT',
    ...GSON_DEFAULTS,
    ...extra,
  };
}

interface IsApplication {
  client_id: string;
  client_secret: string;
  client_name: string;
  redirect_uris?: string[];
  grant_types: string[];
  ext_pkce_mandatory?: boolean;
  ext_pkce_support_plain?: boolean;
  ext_public_client?: boolean;
  ext_application_token_lifetime?: number;
  ext_user_token_lifetime?: number;
  ext_refresh_token_lifetime?: number;
  ext_id_token_lifetime?: number;
  [field: string]: unknown;
}

/**
 * An IS DCR answer read as the connector reads it (ApplicationDTO via Gson): the fields API Manager
 * takes into its key record, each of the type Gson binds it to.
 */
function readApplication(t: Test, res: LightMyRequestResponse, status: number): IsApplication {
  t.equal(res.statusCode, status, res.body);
  t.equal(res.headers['content-type'], JSON_TYPE);
  t.equal(res.headers['cache-control'], 'no-store', 'it carries a secret');
  const body = res.json() as IsApplication;
  t.type(body.client_id, 'string', 'client_id');
  t.type(body.client_secret, 'string', 'client_secret, in plaintext');
  t.type(body.client_name, 'string', 'client_name');
  t.ok(Array.isArray(body.grant_types), 'grant_types, an array');
  if (body.redirect_uris !== undefined) t.ok(Array.isArray(body.redirect_uris), 'redirect_uris, an array');
  for (const flag of ['ext_pkce_mandatory', 'ext_pkce_support_plain', 'ext_public_client'] as const) {
    if (body[flag] !== undefined) t.type(body[flag], 'boolean', flag);
  }
  for (const lifetime of ['ext_application_token_lifetime', 'ext_user_token_lifetime', 'ext_refresh_token_lifetime', 'ext_id_token_lifetime'] as const) {
    if (body[lifetime] !== undefined) t.ok(Number.isInteger(body[lifetime]), `${lifetime}, a long`);
  }
  return body;
}

function isError(t: Test, res: LightMyRequestResponse, status: number, error: string): void {
  t.equal(res.statusCode, status, res.body);
  t.equal(res.headers['content-type'], JSON_TYPE);
  const body = res.json() as { error: string; error_description: string };
  t.equal(body.error, error);
  t.type(body.error_description, 'string');
}

const scopesOf = (scope: string) => scope.split(' ').sort();

/** State one API Manager action leaves for the next, as API Manager's own database would. */
const keys: { production?: IsApplication; sandbox?: IsApplication; mapped?: { clientId: string; clientSecret: string } } = {};
let resourceId = '';
let writersRoleId = '';

t.test('1 Generate Keys: POST the Gson body, once per key type', async (t) => {
  const production = readApplication(t, await connector('POST', DCR, gsonCreateBody('PRODUCTION')), 201);
  t.equal(production.client_name, `${ADMIN}_${applicationUuid}_PRODUCTION`);
  t.strictSame([...production.grant_types].sort(), ['client_credentials', 'password', 'refresh_token']);
  t.strictSame(production.redirect_uris, ['https://orders.example.com/callback']);
  t.equal(production.ext_application_display_name, 'Orders', 'fields the server does not act on come back');
  t.equal(production.ext_allowed_audience, 'organization');
  t.equal(production.ext_public_client, false);
  t.equal(production.ext_pkce_mandatory, false);
  t.equal(production.require_push_authorization_request, false, "IS's response name for require_pushed_authorization_requests");
  t.equal(production.tls_client_certificate_bound_access_token, false, "and for tls_client_certificate_bound_access_tokens");
  keys.production = production;

  const sandbox = readApplication(t, await connector('POST', DCR, gsonCreateBody('SANDBOX')), 201);
  t.not(sandbox.client_id, production.client_id, 'a second app for the sandbox keys');
  keys.sandbox = sandbox;

  // The same app on the v0.17 surface (one application store): v0.17's registration of a name
  // that exists answers the stored app (WSO2's repeated "log in").
  const v017 = await app.inject({
    method: 'POST',
    url: '/client-registration/v0.17/register',
    headers: { authorization: ADMIN_AUTH },
    payload: { clientName: production.client_name, owner: ADMIN, grantType: 'client_credentials' },
  });
  t.equal(v017.statusCode, 200, v017.body);
  t.match(v017.json(), { clientId: production.client_id, clientSecret: production.client_secret, clientName: production.client_name });

  // Generating keys again for the same application and key type: IS's duplicate-name answer.
  isError(t, await connector('POST', DCR, gsonCreateBody('PRODUCTION')), 400, 'invalid_client_metadata');
});

t.test('2 edit keys: PUT the same body with client_id and client_secret', async (t) => {
  const { client_id, client_secret } = keys.production!;
  const body = { ...gsonCreateBody('PRODUCTION'), client_id, client_secret, grant_types: ['client_credentials', 'password'], redirect_uris: ['https://orders.example.com/v2/callback'] };
  const updated = readApplication(t, await connector('PUT', `${DCR}/${client_id}`, body), 200);
  t.equal(updated.client_id, client_id, 'the same client');
  t.equal(updated.client_secret, client_secret, 'and the same secret');
  t.strictSame([...updated.grant_types].sort(), ['client_credentials', 'password']);
  t.strictSame(updated.redirect_uris, ['https://orders.example.com/v2/callback']);

  const read = readApplication(t, await connector('GET', `${DCR}/${client_id}`), 200);
  t.strictSame([...read.grant_types].sort(), ['client_credentials', 'password'], 'the edit is stored');

  const refresh = await tokenRequest(client_id, client_secret, { grant_type: 'password', username: 'carol', password: CAROL_PASSWORD });
  t.equal(refresh.statusCode, 200, 'password is still allowed');
  t.notOk((refresh.json() as { refresh_token?: string }).refresh_token, 'refresh_token is no longer a grant of the app');
  keys.production = updated;
});

t.test('3 provide existing OAuth keys: GET the client and compare its plaintext secret', async (t) => {
  // An app registered outside API Manager (here on v0.17, as a CI pipeline would).
  const registered = await app.inject({
    method: 'POST',
    url: '/client-registration/v0.17/register',
    headers: { authorization: ADMIN_AUTH },
    payload: { clientName: 'orders-batch', owner: ADMIN, grantType: 'client_credentials', tokenType: 'JWT' },
  });
  t.equal(registered.statusCode, 200, registered.body);
  const { clientId, clientSecret } = registered.json() as { clientId: string; clientSecret: string };

  const read = readApplication(t, await connector('GET', `${DCR}/${clientId}`), 200);
  t.equal(read.client_id, clientId);
  t.equal(read.client_secret, clientSecret, 'the secret the user typed matches: the mapping succeeds');
  t.equal(read.client_name, 'orders-batch');
  t.strictSame(read.grant_types, ['client_credentials']);
  keys.mapped = { clientId, clientSecret };

  // Looking up a client that is not there: only 404 reads as "not found" (null).
  isError(t, await connector('GET', `${DCR}/${randomUUID().replace(/-/g, '')}`), 404, 'not_found');
});

t.test('4 keys API Manager already holds: POST with ext_param_client_id and ext_param_client_secret', async (t) => {
  const presetId = `preset${randomUUID().replace(/-/g, '').slice(0, 20)}`;
  const presetSecret = `secret${randomUUID().replace(/-/g, '')}`;
  const created = readApplication(
    t,
    await connector('POST', DCR, gsonCreateBody('PRODUCTION', { client_name: `${ADMIN}_${randomUUID()}_PRODUCTION`, ext_param_client_id: presetId, ext_param_client_secret: presetSecret })),
    201,
  );
  t.equal(created.client_id, presetId, 'the preset client id is kept');
  t.equal(created.client_secret, presetSecret, 'and the preset secret');
  const token = await tokenRequest(presetId, presetSecret, { grant_type: 'client_credentials' });
  t.equal(token.statusCode, 200, 'the keys API Manager holds get tokens');
});

t.test('5 publish APIs with scopes: find the resource, create it, then add scopes to it', async (t) => {
  const filter = `${API_RESOURCES}?filter=identifier+eq+${RESOURCE_IDENTIFIER}`;
  const none = await connector('GET', filter);
  t.equal(none.statusCode, 200, none.body);
  t.strictSame((none.json() as { apiResources: unknown[] }).apiResources, [], 'no resource yet: an empty array');

  const created = await connector('POST', API_RESOURCES, {
    identifier: RESOURCE_IDENTIFIER,
    name: RESOURCE_IDENTIFIER,
    description: 'Scopes of APIs published in API Manager',
    requiresAuthorization: true,
    scopes: [
      { name: 'orders:read', displayName: 'orders:read', description: 'Read orders' },
      { name: 'orders:write', displayName: 'orders:write', description: 'Write orders' },
    ],
  });
  t.equal(created.statusCode, 201, created.body);
  resourceId = (created.json() as { id: string }).id;
  t.type(resourceId, 'string', 'the resource id the connector keeps');
  t.match(created.headers.location, new RegExp(`${API_RESOURCES}/${resourceId}$`));

  // The next API published: the resource is found by the same filter (with %20 too), its scopes read, new ones added.
  for (const url of [filter, `${API_RESOURCES}?filter=identifier%20eq%20${RESOURCE_IDENTIFIER}`]) {
    const found = await connector('GET', url);
    t.equal(found.statusCode, 200);
    t.strictSame(
      (found.json() as { apiResources: { id: string }[] }).apiResources.map((r) => r.id),
      [resourceId],
    );
  }
  const scopes = await connector('GET', `${API_RESOURCES}/${resourceId}/scopes`);
  t.equal(scopes.statusCode, 200);
  t.strictSame(
    (scopes.json() as { name: string }[]).map((s) => s.name).sort(),
    ['orders:read', 'orders:write'],
    'a bare array of the scopes',
  );
  const added = await connector('PATCH', `${API_RESOURCES}/${resourceId}`, {
    addedScopes: [
      { name: 'menu:edit', displayName: 'menu:edit', description: 'Edit the menu' },
      { name: 'menu:draft', displayName: 'menu:draft', description: 'Draft a menu' },
    ],
  });
  t.ok(added.statusCode >= 200 && added.statusCode < 300, `PATCH addedScopes: a 2xx (${added.statusCode})`);

  const resource = await connector('GET', `${API_RESOURCES}/${resourceId}`);
  t.equal(resource.statusCode, 200);
  t.strictSame(
    (resource.json() as { scopes: { name: string }[] }).scopes.map((s) => s.name).sort(),
    ['menu:draft', 'menu:edit', 'orders:read', 'orders:write'],
  );
});

t.test('6 update and delete a scope', async (t) => {
  const updated = await connector('PATCH', `${API_RESOURCES}/${resourceId}/scopes/orders:write`, { displayName: 'Write orders', description: 'Create and change orders' });
  t.ok(updated.statusCode >= 200 && updated.statusCode < 300, `PATCH a scope: a 2xx (${updated.statusCode})`);
  const removed = await connector('DELETE', `${API_RESOURCES}/${resourceId}/scopes/menu:draft`);
  t.equal(removed.statusCode, 204, 'DELETE a scope, JSON content type and an empty body');

  const scopes = (await connector('GET', `${API_RESOURCES}/${resourceId}/scopes`)).json() as { name: string; displayName: string; description?: string }[];
  t.strictSame(scopes.map((s) => s.name).sort(), ['menu:edit', 'orders:read', 'orders:write']);
  t.match(
    scopes.find((s) => s.name === 'orders:write'),
    { displayName: 'Write orders', description: 'Create and change orders' },
  );
});

t.test('7 bind scopes to roles: search, create, read and replace the permissions', async (t) => {
  const searchBody = { schemas: ['urn:ietf:params:scim:api:messages:2.0:SearchRequest'], filter: 'displayName eq order-managers', startIndex: 1 };
  const none = await connector('POST', `${ROLES}/.search`, searchBody);
  t.equal(none.statusCode, 200, none.body);
  t.match(none.json(), { schemas: ['urn:ietf:params:scim:api:messages:2.0:ListResponse'], totalResults: 0 });

  const created = await connector('POST', ROLES, { displayName: 'order-managers', permissions: [{ value: 'orders:write' }] });
  t.equal(created.statusCode, 201, created.body);
  writersRoleId = (created.json() as { id: string }).id;

  const found = await connector('POST', `${ROLES}/.search`, searchBody);
  t.match(found.json(), { totalResults: 1, Resources: [{ id: writersRoleId, displayName: 'order-managers' }] });

  const read = await connector('GET', `${ROLES}/${writersRoleId}`);
  t.equal(read.statusCode, 200);
  t.strictSame((read.json() as { permissions: { value: string }[] }).permissions.map((p) => p.value), ['orders:write']);

  // A second scope lists the role: the connector replaces the full permission list.
  const replaced = await connector('PATCH', `${ROLES}/${writersRoleId}`, { Operations: [{ op: 'replace', value: { permissions: [{ value: 'orders:write' }, { value: 'menu:edit' }] } }] });
  t.ok(replaced.statusCode >= 200 && replaced.statusCode < 300, `PATCH replace: a 2xx (${replaced.statusCode})`);
  const after = (await connector('GET', `${ROLES}/${writersRoleId}`)).json() as { permissions: { value: string }[] };
  t.strictSame(after.permissions.map((p) => p.value).sort(), ['menu:edit', 'orders:write']);

  // A search without a filter lists every role with its permissions.
  const all = (await connector('POST', `${ROLES}/.search`, { schemas: ['urn:ietf:params:scim:api:messages:2.0:SearchRequest'] })).json() as { Resources: { id: string; permissions: { value: string }[] }[] };
  t.strictSame(all.Resources.find((r) => r.id === writersRoleId)?.permissions.map((p) => p.value).sort(), ['menu:edit', 'orders:write']);
});

t.test('8 generate an access token: the role-based scope rule decides what is granted', async (t) => {
  const { client_id, client_secret } = keys.production!;
  const requested = 'orders:read orders:write menu:edit never:defined';
  const generate = async () => {
    const res = await tokenRequest(client_id, client_secret, { grant_type: 'client_credentials', scope: requested });
    t.equal(res.statusCode, 200, res.body);
    const body = res.json() as { access_token: string; expires_in: number; scope: string; token_type: string };
    t.equal(body.token_type, 'Bearer');
    t.ok(Number.isInteger(body.expires_in) && body.expires_in > 0, 'expires_in');
    const claims = decodeJwt(body.access_token);
    t.equal(claims.scope, body.scope, "the JWT's scope says exactly what the response says");
    t.equal(claims.iss, ISSUER);
    t.equal(claims.azp, client_id, 'consumer key claim');
    t.equal(claims.aut, 'APPLICATION');
    return body;
  };

  // The app's owner (the Key Manager admin, as for every app the connector creates) holds no role:
  // orders:read is bound to none, orders:write and menu:edit only to order-managers.
  t.strictSame(scopesOf((await generate()).scope), ['orders:read'], 'before the owner joins the role');

  const joined = await connector('PATCH', `${ROLES}/${writersRoleId}`, {
    schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
    Operations: [{ op: 'add', path: 'users', value: [{ value: ADMIN }] }],
  });
  t.ok(joined.statusCode >= 200 && joined.statusCode < 300, `the operator adds the owner to the role (${joined.statusCode})`);
  t.strictSame(scopesOf((await generate()).scope), ['menu:edit', 'orders:read', 'orders:write'], 'after: every defined scope of the role');

  // A user token: carol is in no role.
  const carol = await tokenRequest(client_id, client_secret, { grant_type: 'password', username: 'carol', password: CAROL_PASSWORD, scope: requested });
  t.equal(carol.statusCode, 200, carol.body);
  const carolBody = carol.json() as { access_token: string; scope: string };
  t.strictSame(scopesOf(carolBody.scope), ['orders:read']);
  t.equal(decodeJwt(carolBody.access_token).aut, 'APPLICATION_USER');

  const nothing = await tokenRequest(client_id, client_secret, { grant_type: 'client_credentials', scope: 'never:defined' });
  t.equal((nothing.json() as { scope: string }).scope, 'default', 'nothing granted: default, as before');
});

t.test('9 validate an opaque token: introspection with the admin and X-WSO2-Tenant', async (t) => {
  const opaque = readApplication(t, await connector('POST', DCR, gsonCreateBody('PRODUCTION', { client_name: `${ADMIN}_${randomUUID()}_PRODUCTION`, token_type_extension: 'DEFAULT', grant_types: ['client_credentials'] })), 201);
  const token = await tokenRequest(opaque.client_id, opaque.client_secret, { grant_type: 'client_credentials', scope: 'orders:read' });
  t.equal(token.statusCode, 200, token.body);
  const { access_token: accessToken } = token.json() as { access_token: string };
  t.notMatch(accessToken, /^eyJ/, 'an opaque token');

  const res = await introspect(accessToken);
  t.equal(res.statusCode, 200, res.body);
  const body = res.json() as Record<string, unknown>;
  t.match(body, { active: true, scope: 'orders:read', client_id: opaque.client_id, username: ADMIN, token_type: 'Bearer', aut: 'APPLICATION' });
  for (const time of ['exp', 'iat', 'nbf']) t.ok(Number.isInteger(body[time]), `${time} in seconds`);
  t.ok((body.exp as number) - (body.iat as number) > 0, 'a validity (exp - iat)');

  const unknown = await introspect('not-a-token-this-server-issued');
  t.equal(unknown.statusCode, 200);
  t.equal(unknown.body, '{"active":false}', 'anything inactive is exactly {"active":false}');
});

t.test("10 backend-JWT user claims: /scim2/Me and /scim2/Schemas with the user's bearer token", async (t) => {
  const { client_id, client_secret } = keys.production!;
  const token = await tokenRequest(client_id, client_secret, { grant_type: 'password', username: 'carol', password: CAROL_PASSWORD });
  const bearer = `Bearer ${(token.json() as { access_token: string }).access_token}`;

  const me = await app.inject({ method: 'GET', url: '/scim2/Me', headers: { authorization: bearer, 'content-type': 'application/json' } });
  t.equal(me.statusCode, 200, me.body);
  t.match(me.json(), { id: carolId, userName: 'carol' });

  const schemas = await app.inject({ method: 'GET', url: '/scim2/Schemas', headers: { authorization: bearer, 'content-type': 'application/json' } });
  t.equal(schemas.statusCode, 200, schemas.body);
  const list = schemas.json() as { id: string; attributes: { name: string }[] }[];
  t.ok(Array.isArray(list), 'a bare JSON array');
  t.ok(
    list.find((schema) => schema.id === 'urn:ietf:params:scim:schemas:core:2.0:User')?.attributes.some((a) => a.name === 'userName'),
    'the User schema, with userName',
  );
});

t.test('11 remove keys: DELETE with a JSON content type and an empty body; the tokens go with the app', async (t) => {
  const { client_id, client_secret } = keys.sandbox!;
  const token = await tokenRequest(client_id, client_secret, { grant_type: 'client_credentials' });
  t.equal(token.statusCode, 200, token.body);
  const { access_token: accessToken } = token.json() as { access_token: string };
  t.match((await introspect(accessToken)).json(), { active: true });

  const removed = await connector('DELETE', `${DCR}/${client_id}`);
  t.equal(removed.statusCode, 204, removed.body);
  t.equal(removed.body, '');

  isError(t, await connector('GET', `${DCR}/${client_id}`), 404, 'not_found');
  t.equal((await introspect(accessToken)).body, '{"active":false}', 'its token is revoked');
  t.equal((await tokenRequest(client_id, client_secret, { grant_type: 'client_credentials' })).statusCode, 401, 'its keys get no token');
  isError(t, await connector('DELETE', `${DCR}/${client_id}`), 404, 'not_found');

  // The mapped keys are an app API Manager did not create: removing the mapping's app works the same way.
  t.equal((await connector('DELETE', `${DCR}/${keys.mapped!.clientId}`)).statusCode, 204);
});
