/**
 * WSO2 IS DCR v1.1 (/api/identity/oauth2/dcr/v1.1/register) on the wire, as API Manager's
 * WSO2-IS-7 Key Manager connector calls it (../shared/reference/wso2-key-manager.md §3, §4): the
 * Gson create body verbatim, JSON content type on GET and DELETE with empty bodies, admin Basic.
 * Then presets, ownership, Bearer scopes, the one store shared with v0.17, deletion revoking
 * tokens, and the errors in `{"error","error_description"}`.
 */
import type { FastifyInstance, InjectOptions } from 'fastify';
import t, { type Test } from 'tap';
import { ADMIN, ADMIN_AUTH, PUBLIC_URL, basic, buildTestApp, createUser } from '../fixtures/app.js';
import { GSON_DEFAULTS } from '../fixtures/connector-body.js';

const BASE = '/api/identity/oauth2/dcr/v1.1/register';
const JSON_TYPE = 'application/json; charset=utf-8';
const FORM = 'application/x-www-form-urlencoded';
const CLIENT_ID = /^[0-9A-Za-z_]{28}$/;

/** What the connector's Gson writes on "Generate Keys": every unset lifetime 0, every flag false. */
const GSON_BODY = {
  client_name: 'admin_a102b2a0-5b29-4c4c-9d0e-3f3d0c6b1f1e_PRODUCTION',
  ext_application_display_name: 'PizzaShack',
  grant_types: ['client_credentials', 'password', 'refresh_token'],
  redirect_uris: ['https://localhost:9443/callback'],
  token_type_extension: 'JWT',
  ...GSON_DEFAULTS,
};

/** A call as the connector makes it: JSON content type always, an empty body when there is none; `null`: no credentials. */
function call(app: FastifyInstance, method: InjectOptions['method'], url: string, body?: unknown, authorization: string | null = ADMIN_AUTH) {
  return app.inject({
    method,
    url,
    headers: { ...(authorization === null ? {} : { authorization }), 'content-type': 'application/json' },
    payload: body === undefined ? '' : JSON.stringify(body),
  });
}

async function countApps(db: { query: (text: string) => Promise<{ rows: { n?: unknown }[] }> }): Promise<number> {
  return Number((await db.query('SELECT count(*) AS n FROM applications')).rows[0]!.n);
}

function tokenRequest(app: FastifyInstance, clientId: string, clientSecret: string, form: string) {
  return app.inject({ method: 'POST', url: '/oauth2/token', headers: { authorization: basic(clientId, clientSecret), 'content-type': FORM }, payload: form });
}

function introspect(app: FastifyInstance, token: string) {
  return app.inject({ method: 'POST', url: '/oauth2/introspect', headers: { authorization: ADMIN_AUTH, 'content-type': FORM }, payload: `token=${encodeURIComponent(token)}` });
}

function noStore(t: Test, res: { headers: Record<string, unknown> }, what: string) {
  t.equal(res.headers['cache-control'], 'no-store', `${what}: Cache-Control no-store`);
  t.equal(res.headers.pragma, 'no-cache', `${what}: Pragma no-cache`);
}

t.test("the connector's calls: create with the Gson body, read, find by name, edit, delete", async (t) => {
  const { app } = await buildTestApp(t);

  const created = await call(app, 'POST', BASE, GSON_BODY);
  t.equal(created.statusCode, 201, 'the Gson body verbatim: 201');
  t.equal(created.headers['content-type'], JSON_TYPE);
  noStore(t, created, 'create');
  const body = created.json() as { client_id: string; client_secret: string };
  t.match(body.client_id, CLIENT_ID, 'a new client id of WSO2 look');
  t.match(body.client_secret, CLIENT_ID, 'a new secret');
  const expected = {
    client_id: body.client_id,
    client_secret: body.client_secret,
    client_secret_expires_at: 0,
    client_name: GSON_BODY.client_name,
    redirect_uris: ['https://localhost:9443/callback'],
    grant_types: ['client_credentials', 'password', 'refresh_token'],
    ext_application_owner: ADMIN,
    ext_token_type: 'JWT',
    token_type_extension: 'JWT',
    ext_application_token_lifetime: 3600,
    ext_user_token_lifetime: 3600,
    ext_refresh_token_lifetime: 86400,
    backchannel_logout_session_required: false,
    ext_application_display_name: 'PizzaShack',
    ext_id_token_lifetime: 0,
    ext_pkce_mandatory: false,
    ext_pkce_support_plain: false,
    ext_public_client: false,
    tls_client_certificate_bound_access_token: false,
    require_signed_request_object: false,
    require_push_authorization_request: false,
    ext_allowed_audience: 'organization',
  };
  t.strictSame(created.json(), expected, "every field back, the four IS renames applied, 0 lifetimes the server's");

  const read = await call(app, 'GET', `${BASE}/${body.client_id}`);
  t.equal(read.statusCode, 200, 'GET with Content-Type json and an empty body');
  noStore(t, read, 'GET');
  t.strictSame(read.json(), expected, 'the same, with the plaintext secret');

  const byName = await call(app, 'GET', `${BASE}?client_name=${encodeURIComponent(GSON_BODY.client_name)}`);
  t.equal(byName.statusCode, 200);
  noStore(t, byName, 'GET by name');
  t.strictSame(byName.json(), expected, 'one object, not a list');

  // The connector's key edit: the same body with client_id and client_secret instead of presets.
  const edited = await call(app, 'PUT', `${BASE}/${body.client_id}`, {
    ...GSON_BODY,
    client_id: body.client_id,
    client_secret: body.client_secret,
    grant_types: ['client_credentials'],
    redirect_uris: ['https://a.example/cb', 'https://b.example/cb?x=1'],
    ext_application_token_lifetime: 600,
    ext_pkce_mandatory: true,
  });
  t.equal(edited.statusCode, 200, 'PUT: 200');
  noStore(t, edited, 'PUT');
  const afterEdit = {
    ...expected,
    grant_types: ['client_credentials'],
    redirect_uris: ['https://a.example/cb', 'https://b.example/cb?x=1'],
    ext_application_token_lifetime: 600,
    ext_pkce_mandatory: true,
  };
  t.strictSame(edited.json(), afterEdit, 'the metadata replaced; id and secret kept');
  t.strictSame((await call(app, 'GET', `${BASE}/${body.client_id}`)).json(), afterEdit, 'and stored');

  const dropped = await call(app, 'PUT', `${BASE}/${body.client_id}`, { grant_types: ['client_credentials'], redirect_uris: [] });
  t.equal(dropped.statusCode, 200);
  t.strictSame(
    dropped.json(),
    {
      client_id: body.client_id,
      client_secret: body.client_secret,
      client_secret_expires_at: 0,
      client_name: GSON_BODY.client_name,
      redirect_uris: [],
      grant_types: ['client_credentials'],
      ext_application_owner: ADMIN,
      ext_token_type: 'DEFAULT',
      token_type_extension: 'DEFAULT',
      ext_application_token_lifetime: 3600,
      ext_user_token_lifetime: 3600,
      ext_refresh_token_lifetime: 86400,
    },
    'PUT replaces: what is left out is none or the default; without client_name the name stays',
  );

  const deleted = await call(app, 'DELETE', `${BASE}/${body.client_id}`);
  t.equal(deleted.statusCode, 204, 'DELETE with Content-Type json and an empty body');
  t.equal(deleted.body, '');
  const gone = await call(app, 'GET', `${BASE}/${body.client_id}`);
  t.equal(gone.statusCode, 404, 'gone: 404, which the connector reads as "not found"');
  t.equal(gone.headers['content-type'], JSON_TYPE);
  t.strictSame(gone.json(), { error: 'not_found', error_description: 'No application with that client id or name' });
  t.equal((await call(app, 'DELETE', `${BASE}/${body.client_id}`)).statusCode, 404, 'deleting it again: 404');
  t.equal((await call(app, 'GET', `${BASE}?client_name=${encodeURIComponent(GSON_BODY.client_name)}`)).statusCode, 404, 'by name too');
});

t.test('every IS field is accepted and stored; unknown fields are ignored; DEFAULT tokens', async (t) => {
  const { app } = await buildTestApp(t);
  const everything = {
    client_name: 'all_fields',
    grant_types: ['authorization_code', 'client_credentials'],
    redirect_uris: ['https://app.example/cb'],
    jwks_uri: 'https://app.example/jwks',
    url: 'https://app.example',
    contacts: ['ops@app.example'],
    post_logout_redirect_uris: ['https://app.example/bye'],
    request_uris: ['https://app.example/req'],
    ext_param_sp_template: 'template',
    backchannel_logout_uri: 'https://app.example/bc',
    backchannel_logout_session_required: true,
    frontchannel_logout_uri: 'https://app.example/fc',
    ext_application_display_name: 'All fields',
    ext_application_version: 'v2',
    token_type_extension: 'JWT',
    ext_token_type: 'DEFAULT',
    ext_application_token_lifetime: 100,
    ext_user_token_lifetime: 200,
    ext_refresh_token_lifetime: 300,
    ext_id_token_lifetime: 400,
    ext_pkce_mandatory: true,
    ext_pkce_support_plain: true,
    ext_public_client: true,
    token_endpoint_auth_method: 'client_secret_basic',
    token_endpoint_auth_signing_alg: 'RS256',
    tls_client_auth_subject_dn: 'CN=app',
    tls_client_certificate_bound_access_tokens: true,
    sector_identifier_uri: 'https://app.example/sector',
    id_token_signed_response_alg: 'RS256',
    id_token_encrypted_response_alg: 'RSA-OAEP',
    id_token_encrypted_response_enc: 'A128GCM',
    subject_type: 'public',
    request_object_signing_alg: 'RS256',
    require_signed_request_object: true,
    require_pushed_authorization_requests: true,
    request_object_encryption_alg: 'RSA-OAEP',
    request_object_encryption_enc: 'A256GCM',
    software_statement: 'eyJhbGciOiJub25lIn0.e30.',
    ext_allowed_audience: 'organization',
    // Not IS's: accepted and ignored.
    logo_uri: 'https://app.example/logo.png',
    something_else: { nested: [1, 2] },
    client_secret_expires_at: 5,
  };
  const res = await call(app, 'POST', BASE, everything);
  t.equal(res.statusCode, 201);
  const { client_id, client_secret } = res.json() as { client_id: string; client_secret: string };
  t.strictSame(res.json(), {
    client_id,
    client_secret,
    client_secret_expires_at: 0,
    client_name: 'all_fields',
    redirect_uris: ['https://app.example/cb'],
    grant_types: ['authorization_code', 'client_credentials'],
    ext_application_owner: ADMIN,
    ext_token_type: 'DEFAULT',
    token_type_extension: 'DEFAULT',
    ext_application_token_lifetime: 100,
    ext_user_token_lifetime: 200,
    ext_refresh_token_lifetime: 300,
    jwks_uri: 'https://app.example/jwks',
    url: 'https://app.example',
    contacts: ['ops@app.example'],
    post_logout_redirect_uris: ['https://app.example/bye'],
    request_uris: ['https://app.example/req'],
    ext_param_sp_template: 'template',
    backchannel_logout_uri: 'https://app.example/bc',
    backchannel_logout_session_required: true,
    frontchannel_logout_uri: 'https://app.example/fc',
    ext_application_display_name: 'All fields',
    ext_application_version: 'v2',
    ext_id_token_lifetime: 400,
    ext_pkce_mandatory: true,
    ext_pkce_support_plain: true,
    ext_public_client: true,
    token_endpoint_auth_method: 'client_secret_basic',
    token_endpoint_auth_signing_alg: 'RS256',
    tls_client_auth_subject_dn: 'CN=app',
    tls_client_certificate_bound_access_token: true,
    sector_identifier_uri: 'https://app.example/sector',
    id_token_signed_response_alg: 'RS256',
    id_token_encrypted_response_alg: 'RSA-OAEP',
    id_token_encrypted_response_enc: 'A128GCM',
    subject_type: 'public',
    request_object_signing_alg: 'RS256',
    require_signed_request_object: true,
    require_push_authorization_request: true,
    request_object_encryption_algorithm: 'RSA-OAEP',
    request_object_encryption_method: 'A256GCM',
    software_statement: 'eyJhbGciOiJub25lIn0.e30.',
    ext_allowed_audience: 'organization',
  }, 'ext_token_type wins over token_type_extension; unknown fields are not answered');

  const token = await tokenRequest(app, client_id, client_secret, 'grant_type=client_credentials');
  t.equal(token.statusCode, 200);
  t.notMatch((token.json() as { access_token: string }).access_token, /^eyJ/, 'DEFAULT: an opaque token');

  const nulls = await call(app, 'POST', BASE, { client_name: 'nulls', grant_types: null, redirect_uris: null, jwks_uri: null, ext_token_type: null, ext_pkce_mandatory: null });
  t.equal(nulls.statusCode, 201, 'null is absent');
  t.strictSame((nulls.json() as { grant_types: unknown }).grant_types, [], 'no grants');
  t.notOk('jwks_uri' in nulls.json(), 'null fields are dropped');
});

t.test('one store with v0.17: the same app, id, secret and owner on both surfaces, both ways', async (t) => {
  const { app } = await buildTestApp(t);
  await createUser(app, 'alice', 'alice-Pa55word');
  const alice = basic('alice', 'alice-Pa55word');

  const v017 = await app.inject({
    method: 'POST',
    url: '/client-registration/v0.17/register',
    headers: { authorization: alice },
    payload: { clientName: 'legacy_app', owner: 'alice', grantType: 'client_credentials password', callbackUrl: 'regexp=(https://a/cb|https://b/cb)', tokenType: 'JWT' },
  });
  t.equal(v017.statusCode, 200);
  const legacy = v017.json() as { clientId: string; clientSecret: string };
  const seen = await call(app, 'GET', `${BASE}/${legacy.clientId}`, undefined, alice);
  t.equal(seen.statusCode, 200, 'a v0.17 app on v1.1');
  t.strictSame(seen.json(), {
    client_id: legacy.clientId,
    client_secret: legacy.clientSecret,
    client_secret_expires_at: 0,
    client_name: 'legacy_app',
    redirect_uris: ['regexp=(https://a/cb|https://b/cb)'],
    grant_types: ['client_credentials', 'password'],
    ext_application_owner: 'alice',
    ext_token_type: 'JWT',
    token_type_extension: 'JWT',
    ext_application_token_lifetime: 3600,
    ext_user_token_lifetime: 3600,
    ext_refresh_token_lifetime: 86400,
  }, 'its callback as one URI, as IS answers a pattern undecoded');
  const dup = await call(app, 'POST', BASE, { client_name: 'legacy_app' }, alice);
  t.equal(dup.statusCode, 400, 'the name is taken across both surfaces');
  t.strictSame(dup.json(), { error: 'invalid_client_metadata', error_description: 'Application with the name legacy_app already exist in the system' });

  const created = await call(app, 'POST', BASE, { client_name: 'modern_app', grant_types: ['client_credentials'], redirect_uris: ['https://a/cb', 'https://b/cb?x=1'] }, alice);
  t.equal(created.statusCode, 201);
  const modern = created.json() as { client_id: string; client_secret: string };
  const again = await app.inject({
    method: 'POST',
    url: '/client-registration/v0.17/register',
    headers: { authorization: alice },
    payload: { clientName: 'modern_app', owner: 'alice', grantType: 'password' },
  });
  t.equal(again.statusCode, 200, 'v0.17 registering the v1.1 name: the stored app');
  t.match(again.json(), {
    clientId: modern.client_id,
    clientSecret: modern.client_secret,
    appOwner: 'alice',
    callBackURL: 'regexp=(https://a/cb|https://b/cb\\?x=1)',
    tokenType: 'DEFAULT',
    jsonString: JSON.stringify({ grant_types: 'client_credentials', redirect_uris: 'regexp=(https://a/cb|https://b/cb\\?x=1)', client_name: 'modern_app' }),
  }, "the same id and secret; several redirect URIs as IS's regexp=(a|b), ? escaped");
  const token = await tokenRequest(app, modern.client_id, modern.client_secret, 'grant_type=client_credentials');
  t.equal(token.statusCode, 200, 'a v1.1 app gets tokens');
});

t.test('presets: ext_param_client_id and ext_param_client_secret', async (t) => {
  const { app, db } = await buildTestApp(t);
  const preset = { client_name: 'preset_app', grant_types: ['client_credentials'], ext_param_client_id: 'existing-key_123.abc~x', ext_param_client_secret: 'existing-Secret-0123456789', ext_param_client_secret_expires_at: 4102444800 };
  const res = await call(app, 'POST', BASE, preset);
  t.equal(res.statusCode, 201);
  t.match(res.json(), { client_id: 'existing-key_123.abc~x', client_secret: 'existing-Secret-0123456789', client_secret_expires_at: 4102444800 });
  const read = await call(app, 'GET', `${BASE}/existing-key_123.abc~x`);
  t.equal((read.json() as { client_secret: string }).client_secret, 'existing-Secret-0123456789', 'GET returns the plaintext preset secret');
  const row = await db.query<{ client_secret_enc: string }>('SELECT client_secret_enc FROM applications WHERE client_id = $1', ['existing-key_123.abc~x']);
  t.notMatch(row.rows[0]!.client_secret_enc, /existing-Secret/, 'sealed at rest');
  t.equal((await tokenRequest(app, 'existing-key_123.abc~x', 'existing-Secret-0123456789', 'grant_type=client_credentials')).statusCode, 200, 'the preset credentials get tokens');

  const before = await countApps(db);
  const cases: [string, unknown, string][] = [
    ['a taken client id', { ...preset, client_name: 'other_name' }, 'Application with the client id existing-key_123.abc~x already exist in the system'],
    ['a short client id', { client_name: 'x1', ext_param_client_id: 'short' }, "ext_param_client_id must be 8 to 255 characters of letters, digits, '.', '_', '~' and '-'"],
    ['a client id with a colon', { client_name: 'x2', ext_param_client_id: 'has:colon1234' }, "ext_param_client_id must be 8 to 255 characters of letters, digits, '.', '_', '~' and '-'"],
    ['a short secret', { client_name: 'x3', ext_param_client_secret: 'short-secret' }, 'ext_param_client_secret must be 16 to 255 printable ASCII characters without spaces'],
    ['a secret with a space', { client_name: 'x4', ext_param_client_secret: 'with a space inside it' }, 'ext_param_client_secret must be 16 to 255 printable ASCII characters without spaces'],
    ['an expiry in the past', { client_name: 'x5', ext_param_client_secret_expires_at: 1000 }, 'ext_param_client_secret_expires_at is in the past'],
  ];
  for (const [what, body, description] of cases) {
    const refused = await call(app, 'POST', BASE, body);
    t.equal(refused.statusCode, 400, what);
    t.equal(refused.headers['content-type'], JSON_TYPE);
    t.strictSame(refused.json(), { error: 'invalid_client_metadata', error_description: description }, what);
  }
  t.equal(await countApps(db), before, 'no refused request left a row');
});

t.test('errors: exact bodies, no partial rows', async (t) => {
  const { app, db } = await buildTestApp(t);
  await call(app, 'POST', BASE, { client_name: 'taken' });
  const before = await countApps(db);
  const cases: [string, unknown, string, string][] = [
    ['a duplicate name', { client_name: 'taken' }, 'invalid_client_metadata', 'Application with the name taken already exist in the system'],
    ['no client_name', { grant_types: ['client_credentials'] }, 'invalid_client_metadata', 'client_name is required'],
    ['a name outside the rules', { client_name: 'bad/name' }, 'invalid_client_metadata', "Application name 'bad/name' is invalid: it may contain only letters, digits, white space, '.', '_' and '-'"],
    ['a grant not allowed', { client_name: 'g', grant_types: ['foo_grant'] }, 'invalid_client_metadata', "'foo_grant' grant type is not allowed"],
    ['authorization_code without redirect URIs', { client_name: 'g', grant_types: ['authorization_code'] }, 'invalid_redirect_uri', 'Redirect URIs are required for the authorization_code grant'],
    ['a blank redirect URI', { client_name: 'r', redirect_uris: [' '] }, 'invalid_redirect_uri', 'The redirect URI " " is not a valid URI'],
    ['a redirect URI with a space', { client_name: 'r', redirect_uris: ['https://a/b c'] }, 'invalid_redirect_uri', 'The redirect URI "https://a/b c" is not a valid URI'],
    ['a javascript: redirect URI', { client_name: 'r', redirect_uris: ['javascript:alert(1)'] }, 'invalid_redirect_uri', "A redirect URI must not use the 'javascript:' scheme"],
    ['NUL in a stored field', { client_name: 'n', jwks_uri: 'https://a/\u0000' }, 'invalid_client_metadata', "'jwks_uri' must not contain NUL characters"],
    ['another owner, not the super admin', { client_name: 'o', ext_application_owner: 'nobody' }, 'invalid_client_metadata', 'User: nobody does not exist for application registration'],
    ['a negative lifetime', { client_name: 'l', ext_application_token_lifetime: -1 }, 'invalid_client_metadata', "'ext_application_token_lifetime' must be >= 0"],
    ['a lifetime of the wrong type', { client_name: 'l', ext_user_token_lifetime: '60' }, 'invalid_client_metadata', "'ext_user_token_lifetime' must be integer"],
    ['too many redirect URIs', { client_name: 'l', redirect_uris: Array.from({ length: 51 }, (_, i) => `https://a/${i}`) }, 'invalid_client_metadata', "'redirect_uris' must NOT have more than 50 items"],
  ];
  for (const [what, body, error, description] of cases) {
    const res = await call(app, 'POST', BASE, body);
    t.equal(res.statusCode, 400, what);
    t.equal(res.headers['content-type'], JSON_TYPE, what);
    t.strictSame(res.json(), { error, error_description: description }, what);
  }

  const malformed = await app.inject({ method: 'POST', url: BASE, headers: { authorization: ADMIN_AUTH, 'content-type': 'application/json' }, payload: '{"client_name":' });
  t.equal(malformed.statusCode, 400);
  t.strictSame(malformed.json(), { error: 'invalid_request', error_description: 'The request body is not valid JSON' });
  const empty = await call(app, 'POST', BASE);
  t.equal(empty.statusCode, 400, 'no body');
  t.equal((empty.json() as { error: string }).error, 'invalid_request');

  const text = await app.inject({ method: 'POST', url: BASE, headers: { authorization: ADMIN_AUTH, 'content-type': 'text/plain' }, payload: 'x' });
  t.equal(text.statusCode, 415);
  t.strictSame(text.json(), { error: 'invalid_request', error_description: 'The request body must be application/json' });
  const large = await call(app, 'POST', BASE, { client_name: 'big', software_statement: 'x'.repeat(70_000) });
  t.equal(large.statusCode, 413);
  t.strictSame(large.json(), { error: 'invalid_request', error_description: 'The request body exceeds the size limit of this server' });

  const anonymous = await call(app, 'POST', BASE, { client_name: 'anon' }, null);
  t.equal(anonymous.statusCode, 401);
  t.ok(anonymous.headers['www-authenticate'], 'WWW-Authenticate');
  t.strictSame(anonymous.json(), { error: 'unauthorized', error_description: 'The user is not authorized' });
  const wrong = await call(app, 'GET', `${BASE}/whatever`, undefined, basic(ADMIN, 'wrong'));
  t.equal(wrong.statusCode, 401, 'a wrong password: 401 before the lookup');
  t.strictSame(wrong.json(), { error: 'unauthorized', error_description: 'The user is not authorized' });

  const unknown = await call(app, 'GET', `${BASE}/no-such-client`);
  t.equal(unknown.statusCode, 404, 'an unknown client: 404, not IS 401');
  t.strictSame(unknown.json(), { error: 'not_found', error_description: 'No application with that client id or name' });
  t.equal((await call(app, 'PUT', `${BASE}/no-such-client`, { client_name: 'x' })).statusCode, 404);
  t.equal((await call(app, 'DELETE', `${BASE}/no-such-client`)).statusCode, 404);
  const unknownName = await call(app, 'GET', `${BASE}?client_name=nope`);
  t.equal(unknownName.statusCode, 404);

  const path = await call(app, 'GET', '/api/identity/oauth2/dcr/v1.0/register');
  t.equal(path.statusCode, 404, 'an unknown path under /api/identity/');
  t.strictSame(path.json(), { error: 'not_found', error_description: 'No resource at /api/identity/oauth2/dcr/v1.0/register' });
  const method = await call(app, 'PATCH', `${BASE}/x`, {});
  t.equal(method.statusCode, 405);
  t.equal(method.headers.allow, 'GET, HEAD, PUT, DELETE');
  t.equal((method.json() as { error: string }).error, 'invalid_request');

  t.equal(await countApps(db), before, 'no refused request left a row');
});

t.test('creations of one burst share a statement; a taken name fails alone', async (t) => {
  const { app, db } = await buildTestApp(t);
  await call(app, 'POST', BASE, { client_name: 'burst-taken' });
  const before = await countApps(db);
  // Sent together, so that they reach the repository in one turn of the event loop: one batch.
  const names = ['burst-a', 'burst-taken', 'burst-b', 'burst-twice', 'burst-twice', 'burst-c'];
  const answers = await Promise.all(names.map((name) => call(app, 'POST', BASE, { ...GSON_BODY, client_name: name })));
  const statuses = answers.map((res) => res.statusCode);
  t.strictSame(statuses.filter((status) => status === 201).length, 4, 'burst-a, b, c and one of the two burst-twice');
  t.equal(statuses[1], 400, 'the name already taken');
  t.strictSame(answers[1]!.json(), { error: 'invalid_client_metadata', error_description: 'Application with the name burst-taken already exist in the system' });
  t.strictSame([statuses[3], statuses[4]].sort(), [201, 400], 'a name twice in the burst: one is created, the other told it is taken');
  const created = answers.filter((res) => res.statusCode === 201).map((res) => res.json() as { client_id: string; client_name: string; client_secret: string });
  t.equal(new Set(created.map((app) => app.client_id)).size, 4, 'each its own client id');
  for (const one of created) {
    const read = await call(app, 'GET', `${BASE}/${one.client_id}`);
    t.match(read.json(), { client_id: one.client_id, client_name: one.client_name, client_secret: one.client_secret }, `${one.client_name} is stored with the secret it was answered`);
  }
  t.equal(await countApps(db), before + 4, 'no row for the refused ones');
});

t.test('ownership: the owner and the super admin; anyone else 403', async (t) => {
  const { app } = await buildTestApp(t);
  await createUser(app, 'alice', 'alice-Pa55word');
  await createUser(app, 'bob', 'bob-Pa55word');
  const alice = basic('alice', 'alice-Pa55word');
  const bob = basic('bob', 'bob-Pa55word');

  const mine = await call(app, 'POST', BASE, { client_name: 'alices_app' }, alice);
  t.equal(mine.statusCode, 201);
  const { client_id } = mine.json() as { client_id: string };
  t.equal((mine.json() as { ext_application_owner: string }).ext_application_owner, 'alice', 'the caller owns it');

  for (const [what, res] of [
    ['GET', await call(app, 'GET', `${BASE}/${client_id}`, undefined, bob)],
    ['GET by name', await call(app, 'GET', `${BASE}?client_name=alices_app`, undefined, bob)],
    ['PUT', await call(app, 'PUT', `${BASE}/${client_id}`, { client_name: 'stolen' }, bob)],
    ['DELETE', await call(app, 'DELETE', `${BASE}/${client_id}`, undefined, bob)],
  ] as const) {
    t.equal(res.statusCode, 403, `${what} by another user`);
    t.strictSame(res.json(), { error: 'access_denied', error_description: 'The application belongs to another user' }, what);
  }
  t.equal((await call(app, 'GET', `${BASE}/${client_id}`, undefined, alice)).statusCode, 200, 'the owner');
  t.equal((await call(app, 'GET', `${BASE}/${client_id}`)).statusCode, 200, 'the super admin');

  const forOther = await call(app, 'POST', BASE, { client_name: 'for_bob', ext_application_owner: 'bob' }, alice);
  t.equal(forOther.statusCode, 400, 'a user registers only for themselves');
  t.strictSame(forOther.json(), { error: 'invalid_client_metadata', error_description: "Logged in user 'alice' and application owner 'bob' should be same." });
  const byAdmin = await call(app, 'POST', BASE, { client_name: 'for_bob', ext_application_owner: 'bob' });
  t.equal(byAdmin.statusCode, 201, 'the super admin registers for another user');
  t.equal((byAdmin.json() as { ext_application_owner: string }).ext_application_owner, 'bob');
  const bobsId = (byAdmin.json() as { client_id: string }).client_id;
  t.equal((await call(app, 'GET', `${BASE}/${bobsId}`, undefined, bob)).statusCode, 200, 'the owner named by the admin');

  const handedOver = await call(app, 'PUT', `${BASE}/${client_id}`, { ext_application_owner: 'bob' });
  t.equal(handedOver.statusCode, 200, 'the super admin may change the owner');
  t.equal((handedOver.json() as { ext_application_owner: string }).ext_application_owner, 'bob');
  t.equal((await call(app, 'GET', `${BASE}/${client_id}`, undefined, alice)).statusCode, 403, 'no longer alice’s');

  const mismatch = await call(app, 'PUT', `${BASE}/${client_id}`, { client_id: 'another-id' });
  t.equal(mismatch.statusCode, 400);
  t.strictSame(mismatch.json(), { error: 'invalid_client_metadata', error_description: 'client_id in the body is not the client id of the path' });
  const rename = await call(app, 'PUT', `${BASE}/${client_id}`, { client_name: 'for_bob' });
  t.equal(rename.statusCode, 400, 'renaming onto a taken name');
  t.strictSame(rename.json(), { error: 'invalid_client_metadata', error_description: 'Application with the name for_bob already exist in the system' });
  const read = await call(app, 'GET', `${BASE}/${client_id}`);
  t.equal((read.json() as { client_name: string }).client_name, 'alices_app', 'a refused PUT changes nothing');
});

t.test("Bearer tokens: each internal_dcr_* scope for its operation, apim:dcr:app_manage for all", async (t) => {
  const { app } = await buildTestApp(t);
  const reg = await call(app, 'POST', BASE, { client_name: 'token_client', grant_types: ['client_credentials', 'password'] });
  const client = reg.json() as { client_id: string; client_secret: string };
  const tokenWith = async (scope: string) => {
    const res = await tokenRequest(app, client.client_id, client.client_secret, `grant_type=password&username=${ADMIN}&password=${encodeURIComponent('admin-Pa55word')}&scope=${encodeURIComponent(scope)}`);
    const body = res.json() as { access_token: string; scope: string };
    t.equal(body.scope, scope, `${scope} is granted`);
    return `Bearer ${body.access_token}`;
  };
  const create = await tokenWith('internal_dcr_create');
  const view = await tokenWith('internal_dcr_view');
  const update = await tokenWith('internal_dcr_update');
  const remove = await tokenWith('internal_dcr_delete');
  const manage = await tokenWith('apim:dcr:app_manage');
  const openid = await tokenWith('openid');

  const made = await call(app, 'POST', BASE, { client_name: 'by_bearer' }, create);
  t.equal(made.statusCode, 201, 'internal_dcr_create creates');
  const id = (made.json() as { client_id: string }).client_id;
  for (const [what, res] of [
    ['view cannot create', await call(app, 'POST', BASE, { client_name: 'no' }, view)],
    ['create cannot read', await call(app, 'GET', `${BASE}/${id}`, undefined, create)],
    ['view cannot update', await call(app, 'PUT', `${BASE}/${id}`, {}, view)],
    ['update cannot delete', await call(app, 'DELETE', `${BASE}/${id}`, undefined, update)],
    ['openid is none of them', await call(app, 'GET', `${BASE}/${id}`, undefined, openid)],
  ] as const) {
    t.equal(res.statusCode, 401, what);
    t.ok(res.headers['www-authenticate'], `${what}: WWW-Authenticate`);
    t.strictSame(res.json(), { error: 'unauthorized', error_description: 'The user is not authorized' }, what);
  }
  t.equal((await call(app, 'GET', `${BASE}/${id}`, undefined, view)).statusCode, 200, 'internal_dcr_view reads');
  t.equal((await call(app, 'GET', `${BASE}?client_name=by_bearer`, undefined, view)).statusCode, 200, 'and finds by name');
  t.equal((await call(app, 'PUT', `${BASE}/${id}`, { grant_types: ['client_credentials'] }, update)).statusCode, 200, 'internal_dcr_update changes');
  t.equal((await call(app, 'DELETE', `${BASE}/${id}`, undefined, remove)).statusCode, 204, 'internal_dcr_delete deletes');

  const viaManage = await call(app, 'POST', BASE, { client_name: 'by_manage' }, manage);
  t.equal(viaManage.statusCode, 201, 'apim:dcr:app_manage creates');
  const manageId = (viaManage.json() as { client_id: string }).client_id;
  t.equal((await call(app, 'GET', `${BASE}/${manageId}`, undefined, manage)).statusCode, 200);
  t.equal((await call(app, 'PUT', `${BASE}/${manageId}`, {}, manage)).statusCode, 200);
  t.equal((await call(app, 'DELETE', `${BASE}/${manageId}`, undefined, manage)).statusCode, 204);
});

t.test('the internal_dcr_* scopes follow apim:dcr:app_manage’s rule (DCR_APP_MANAGE_USERS)', async (t) => {
  const { app } = await buildTestApp(t, { appManageUsers: ['alice'] });
  await createUser(app, 'bob', 'bob-Pa55word');
  const reg = await call(app, 'POST', BASE, { client_name: 'rule_client', grant_types: ['password'] });
  const client = reg.json() as { client_id: string; client_secret: string };
  const res = await tokenRequest(app, client.client_id, client.client_secret, 'grant_type=password&username=bob&password=bob-Pa55word&scope=internal_dcr_view%20internal_dcr_create');
  t.equal((res.json() as { scope: string }).scope, 'default', 'bob is not listed: neither scope granted');
});

t.test('deleting an app revokes its tokens, on both surfaces', async (t) => {
  const { app, db } = await buildTestApp(t);
  const jwtApp = (await call(app, 'POST', BASE, { client_name: 'jwt_app', grant_types: ['client_credentials', 'password', 'refresh_token'], ext_token_type: 'JWT' })).json() as { client_id: string; client_secret: string };
  const opaqueApp = (await call(app, 'POST', BASE, { client_name: 'opaque_app', grant_types: ['client_credentials'] })).json() as { client_id: string; client_secret: string };
  const jwt = (await tokenRequest(app, jwtApp.client_id, jwtApp.client_secret, `grant_type=password&username=${ADMIN}&password=admin-Pa55word`)).json() as { access_token: string; refresh_token: string };
  const opaque = (await tokenRequest(app, opaqueApp.client_id, opaqueApp.client_secret, 'grant_type=client_credentials')).json() as { access_token: string };
  t.match(jwt.access_token, /^eyJ/);
  t.equal((await introspect(app, jwt.access_token)).json().active, true, 'the JWT is active');
  t.equal((await introspect(app, opaque.access_token)).json().active, true, 'the opaque token is active');

  t.equal((await call(app, 'DELETE', `${BASE}/${jwtApp.client_id}`)).statusCode, 204);
  t.strictSame((await introspect(app, jwt.access_token)).json(), { active: false }, 'the JWT is inactive at once');
  t.strictSame((await introspect(app, jwt.refresh_token)).json(), { active: false }, 'its refresh token too');
  t.equal((await introspect(app, opaque.access_token)).json().active, true, 'another app’s token is untouched');
  const again = await tokenRequest(app, jwtApp.client_id, jwtApp.client_secret, 'grant_type=client_credentials');
  t.equal(again.statusCode, 401, 'the deleted client gets no token, though its credential was remembered');
  t.equal((again.json() as { error: string }).error, 'invalid_client');
  const rows = await db.query<{ n: string }>('SELECT count(*) AS n FROM access_tokens t JOIN applications a ON a.id = t.app_id WHERE a.client_id = $1', [jwtApp.client_id]);
  t.equal(rows.rows[0]!.n, '0', 'no token rows left');

  const v017 = await app.inject({
    method: 'POST',
    url: '/client-registration/v0.17/register',
    headers: { authorization: ADMIN_AUTH },
    payload: { clientName: 'v017_app', owner: ADMIN, grantType: 'client_credentials' },
  });
  const legacy = v017.json() as { clientId: string; clientSecret: string };
  const legacyToken = (await tokenRequest(app, legacy.clientId, legacy.clientSecret, 'grant_type=client_credentials')).json() as { access_token: string };
  t.equal((await call(app, 'DELETE', `${BASE}/${legacy.clientId}`)).statusCode, 204, 'a v0.17 app deleted on v1.1');
  t.strictSame((await introspect(app, legacyToken.access_token)).json(), { active: false });
  const reRegistered = await app.inject({
    method: 'POST',
    url: '/client-registration/v0.17/register',
    headers: { authorization: ADMIN_AUTH },
    payload: { clientName: 'v017_app', owner: ADMIN, grantType: 'client_credentials' },
  });
  t.not((reRegistered.json() as { clientId: string }).clientId, legacy.clientId, 'its name is free again, with new credentials');
});

t.test('the metadata documents advertise the v1.1 endpoint', async (t) => {
  const { app } = await buildTestApp(t);
  for (const url of ['/.well-known/oauth-authorization-server', '/.well-known/openid-configuration', '/oauth2/token/.well-known/openid-configuration']) {
    const res = await app.inject({ method: 'GET', url });
    t.equal((res.json() as { registration_endpoint: string }).registration_endpoint, `${PUBLIC_URL}${BASE}`, url);
  }
});
