/**
 * WSO2 IS DCR v1.1's rules as pure functions (src/domain/is-dcr.ts), table-driven: what a request
 * makes of the shared row and what it keeps as IS metadata, the presets, grants, redirect URIs,
 * token type and lifetimes, and the answer built back from a stored app.
 */
import t from 'tap';
import { DcrError } from '../../src/domain/errors.js';
import {
  METADATA_FIELDS,
  RESPONSE_NAMES,
  checkPresets,
  checkRedirectUris,
  checkUpdateClientId,
  decodeRedirectUris,
  effectiveLifetime,
  encodeRedirectUris,
  isDcrResponse,
  lifetimeOf,
  lifetimesOf,
  mayManage,
  metadataOf,
  requestedOwner,
  requireIsClientName,
  resolveIsGrantTypes,
  resolveTokenType,
  storedMetadata,
  type IsDcrRequest,
} from '../../src/domain/is-dcr.js';
import { DEFAULT_ALLOWED_GRANT_TYPES } from '../../src/domain/registration-rules.js';
import type { IsApplication } from '../../src/domain/types.js';

/** The DcrError `fn` throws: its status, code and description. */
function refusal(fn: () => unknown): { status: number; error: string; description: string } | undefined {
  try {
    fn();
    return undefined;
  } catch (err) {
    if (!(err instanceof DcrError)) throw err;
    return { status: err.statusCode, error: err.error, description: err.description };
  }
}

t.test('client_name: v0.17 rules, told as invalid_client_metadata', async (t) => {
  t.equal(requireIsClientName('admin_a102b2a0_PRODUCTION'), 'admin_a102b2a0_PRODUCTION');
  t.equal(requireIsClientName('with inner space'), 'with inner space');
  for (const name of [undefined, null, '']) {
    t.same(refusal(() => requireIsClientName(name)), { status: 400, error: 'invalid_client_metadata', description: 'client_name is required' }, String(name));
  }
  t.match(refusal(() => requireIsClientName('a/b')), { status: 400, error: 'invalid_client_metadata', description: /is invalid/ });
  t.match(refusal(() => requireIsClientName(' lead')), { error: 'invalid_client_metadata', description: /white space/ });
  t.match(refusal(() => requireIsClientName('x'.repeat(2001))), { error: 'invalid_client_metadata', description: /longer than 2000/ });
});

t.test('presets: format, length, secret expiry', async (t) => {
  const now = 1_700_000_000;
  const ok = [
    {},
    { ext_param_client_id: 'abcdefgh' },
    { ext_param_client_id: 'A-b_c.d~e'.padEnd(255, 'x') },
    { ext_param_client_secret: '!#$%&()*+,-./09:;<=>?@AZ[]^_`az{|}~' },
    { ext_param_client_secret_expires_at: 0 },
    { ext_param_client_secret_expires_at: now + 1 },
    { ext_param_client_id: null, ext_param_client_secret: null, ext_param_client_secret_expires_at: null },
  ];
  for (const request of ok) t.equal(refusal(() => checkPresets(request, now)), undefined, JSON.stringify(request));
  const bad: [IsDcrRequest, RegExp][] = [
    [{ ext_param_client_id: 'short' }, /ext_param_client_id/],
    [{ ext_param_client_id: 'x'.repeat(256) }, /ext_param_client_id/],
    [{ ext_param_client_id: 'has:colon' }, /ext_param_client_id/],
    [{ ext_param_client_id: 'has/slash1' }, /ext_param_client_id/],
    [{ ext_param_client_id: 'percent%41x' }, /ext_param_client_id/],
    [{ ext_param_client_secret: 'fifteen-chars-x' }, /ext_param_client_secret/],
    [{ ext_param_client_secret: 'sixteen chars ok' }, /ext_param_client_secret/],
    [{ ext_param_client_secret: 'über-secret-1234567' }, /ext_param_client_secret/],
    [{ ext_param_client_secret_expires_at: now }, /in the past/],
    [{ ext_param_client_secret_expires_at: 1 }, /in the past/],
  ];
  for (const [request, description] of bad) {
    t.match(refusal(() => checkPresets(request, now)), { status: 400, error: 'invalid_client_metadata', description }, JSON.stringify(request));
  }
});

t.test('grant types: allowed ones only, deduplicated; redirect grants need redirect URIs', async (t) => {
  const allowed = DEFAULT_ALLOWED_GRANT_TYPES;
  t.same(resolveIsGrantTypes(undefined, [], allowed), [], 'none: none');
  t.same(resolveIsGrantTypes(null, [], allowed), []);
  t.same(resolveIsGrantTypes(['client_credentials', 'password', 'client_credentials'], [], allowed), ['client_credentials', 'password']);
  t.same(resolveIsGrantTypes(['authorization_code', 'implicit'], ['https://a/cb'], allowed), ['authorization_code', 'implicit']);
  t.same(refusal(() => resolveIsGrantTypes(['foo'], [], allowed)), { status: 400, error: 'invalid_client_metadata', description: "'foo' grant type is not allowed" });
  t.same(refusal(() => resolveIsGrantTypes(['CLIENT_CREDENTIALS'], [], allowed)), { status: 400, error: 'invalid_client_metadata', description: "'CLIENT_CREDENTIALS' grant type is not allowed" }, 'exact names');
  t.same(refusal(() => resolveIsGrantTypes(['authorization_code', 'implicit'], [], allowed)), {
    status: 400,
    error: 'invalid_redirect_uri',
    description: 'Redirect URIs are required for the authorization_code and implicit grant',
  });
  t.same(refusal(() => resolveIsGrantTypes(['password'], [], ['client_credentials'])), { status: 400, error: 'invalid_client_metadata', description: "'password' grant type is not allowed" }, 'the configured list');
});

t.test('redirect URIs: checked, encoded as IS stores them, decoded from the metadata', async (t) => {
  for (const uris of [[], ['https://a/cb'], ['http://localhost:8080/cb?x=1'], ['myapp://cb'], ['www.google.lk'], ['regexp=(https://a/cb|https://b/cb)'], ['https://a', 'https://b']]) {
    t.equal(refusal(() => checkRedirectUris(uris)), undefined, JSON.stringify(uris));
  }
  const bad: [string[], string][] = [
    [[''], 'The redirect URI "" is not a valid URI'],
    [['  '], 'The redirect URI "  " is not a valid URI'],
    [['https://a/b c'], 'The redirect URI "https://a/b c" is not a valid URI'],
    [['https://a/\n'], 'The redirect URI "https://a/\\n" is not a valid URI'],
    [['https://a/<x>'], 'The redirect URI "https://a/<x>" is not a valid URI'],
    [['https://a', 'regexp=(b c)'], 'The redirect URI "regexp=(b c)" is not a valid URI'],
    [['javascript:alert(1)'], "A redirect URI must not use the 'javascript:' scheme"],
    [['DATA:text/html,x'], "A redirect URI must not use the 'data:' scheme"],
    [['regexp=(https://a/cb|vbscript:x)'], "A redirect URI must not use the 'vbscript:' scheme"],
  ];
  for (const [uris, description] of bad) t.same(refusal(() => checkRedirectUris(uris)), { status: 400, error: 'invalid_redirect_uri', description }, JSON.stringify(uris));

  t.equal(encodeRedirectUris([]), null);
  t.equal(encodeRedirectUris(['https://a/cb?x=1']), 'https://a/cb?x=1', 'one URI as it is');
  t.equal(encodeRedirectUris(['https://a/cb', 'https://b/cb?x=1']), 'regexp=(https://a/cb|https://b/cb\\?x=1)', "several: IS's pattern, ? escaped");
  t.equal(encodeRedirectUris(['https://a/(x)|y', 'https://b']), 'regexp=(https://a/\\(x\\)\\|y|https://b)', '( ) | escaped too: one alternative each');

  const many = ['https://a/cb', 'https://b/cb?x=1'];
  t.same(decodeRedirectUris(encodeRedirectUris(many), storedMetadata({}, many, 0)), many, 'as registered');
  t.same(decodeRedirectUris('https://a/cb', storedMetadata({}, ['https://a/cb'], 0)), ['https://a/cb'], 'one');
  t.same(decodeRedirectUris(null, {}), [], 'none');
  t.same(decodeRedirectUris('regexp=(https://a/cb|https://b/cb)', {}), ['regexp=(https://a/cb|https://b/cb)'], 'a v0.17 callback: one URI, undecoded');
  t.same(decodeRedirectUris('https://other', { redirect_uris: many }), ['https://other'], 'a list that no longer makes the callback is not answered');
});

t.test('token type: ext_token_type wins, blank is DEFAULT, kept as sent', async (t) => {
  const cases: [IsDcrRequest, string][] = [
    [{}, 'DEFAULT'],
    [{ token_type_extension: 'JWT' }, 'JWT'],
    [{ token_type_extension: 'DEFAULT' }, 'DEFAULT'],
    [{ ext_token_type: 'JWT', token_type_extension: 'DEFAULT' }, 'JWT'],
    [{ ext_token_type: 'DEFAULT', token_type_extension: 'JWT' }, 'DEFAULT'],
    [{ ext_token_type: '  ', token_type_extension: 'JWT' }, 'JWT'],
    [{ ext_token_type: null, token_type_extension: null }, 'DEFAULT'],
    [{ ext_token_type: 'jwt' }, 'jwt'],
    [{ ext_token_type: 'Opaque' }, 'Opaque'],
  ];
  for (const [request, expected] of cases) t.equal(resolveTokenType(request), expected, JSON.stringify(request));
  t.match(refusal(() => resolveTokenType({ ext_token_type: 'J\u0000' })), { error: 'invalid_client_metadata' });
});

t.test('lifetimes: 0, null and absent are the default; the cap is the server’s', async (t) => {
  for (const value of [undefined, null, 0, -5]) t.equal(lifetimeOf(value), null, String(value));
  t.equal(lifetimeOf(60), 60);
  t.same(lifetimesOf({ ext_application_token_lifetime: 0, ext_user_token_lifetime: 300, ext_refresh_token_lifetime: 0 }), {
    applicationToken: null,
    userToken: 300,
    refreshToken: null,
  }, "Gson's zeros");
  t.equal(effectiveLifetime(null, 3600), 3600, 'none: the server default');
  t.equal(effectiveLifetime(60, 3600), 60, 'shorter: its own');
  t.equal(effectiveLifetime(7200, 3600), 3600, 'longer: capped');
});

t.test('IS metadata: the fields not acted on, null ones dropped, NUL refused', async (t) => {
  t.same(metadataOf({ client_name: 'x', grant_types: ['password'], ext_pkce_mandatory: false, contacts: ['a'], jwks_uri: null, unknown_field: 1 }), {
    contacts: ['a'],
    ext_pkce_mandatory: false,
  }, 'neither the row fields nor unknown ones');
  t.same(refusal(() => metadataOf({ contacts: ['a\u0000'] })), { status: 400, error: 'invalid_client_metadata', description: "'contacts' must not contain NUL characters" });
  for (const field of ['client_name', 'client_id', 'client_secret', 'grant_types', 'redirect_uris', 'ext_param_client_id', 'ext_param_client_secret', 'ext_application_owner', 'ext_token_type', 'token_type_extension', 'ext_application_token_lifetime']) {
    t.notOk(METADATA_FIELDS.includes(field), `${field} lives in the row or is request-only`);
  }
  t.same(storedMetadata({ ext_public_client: true }, ['a', 'b'], 99), { ext_public_client: true, redirect_uris: ['a', 'b'], client_secret_expires_at: 99 });
  t.same(storedMetadata({}, ['a'], 0), {}, 'one URI is the callback itself; 0 is never');
});

t.test('the answer: the row under IS names, effective lifetimes, metadata renamed', async (t) => {
  const app: IsApplication = {
    id: 'id',
    tenantId: -1234,
    clientId: 'cid',
    clientSecret: 'secret',
    clientName: 'name',
    owner: 'alice',
    ownerId: 'uid',
    grantTypes: ['client_credentials'],
    callbackUrl: 'https://a/cb',
    saasApp: false,
    tokenType: 'JWT',
    userStoreDomainInSubject: false,
    lifetimes: { applicationToken: 100, userToken: null, refreshToken: 99_999 },
    createdAt: new Date(0),
    metadata: {
      ext_application_display_name: 'Name',
      require_pushed_authorization_requests: true,
      tls_client_certificate_bound_access_tokens: false,
      request_object_encryption_alg: 'RSA-OAEP',
      request_object_encryption_enc: 'A256GCM',
      client_secret_expires_at: 42,
    },
  };
  t.strictSame(isDcrResponse(app, { accessTtlSeconds: 3600, refreshTtlSeconds: 86400 }), {
    client_id: 'cid',
    client_secret: 'secret',
    client_secret_expires_at: 42,
    client_name: 'name',
    redirect_uris: ['https://a/cb'],
    grant_types: ['client_credentials'],
    ext_application_owner: 'alice',
    ext_token_type: 'JWT',
    token_type_extension: 'JWT',
    ext_application_token_lifetime: 100,
    ext_user_token_lifetime: 3600,
    ext_refresh_token_lifetime: 86400,
    ext_application_display_name: 'Name',
    tls_client_certificate_bound_access_token: false,
    require_push_authorization_request: true,
    request_object_encryption_algorithm: 'RSA-OAEP',
    request_object_encryption_method: 'A256GCM',
  });
  t.same(Object.keys(RESPONSE_NAMES).sort(), [
    'request_object_encryption_alg',
    'request_object_encryption_enc',
    'require_pushed_authorization_requests',
    'tls_client_certificate_bound_access_tokens',
  ], "IS's four renames");
});

t.test('update and ownership rules', async (t) => {
  t.equal(refusal(() => checkUpdateClientId('a', undefined)), undefined);
  t.equal(refusal(() => checkUpdateClientId('a', null)), undefined);
  t.equal(refusal(() => checkUpdateClientId('a', 'a')), undefined);
  t.same(refusal(() => checkUpdateClientId('a', 'b')), { status: 400, error: 'invalid_client_metadata', description: 'client_id in the body is not the client id of the path' });
  for (const owner of [undefined, null, '', '  ']) t.equal(requestedOwner(owner), undefined, JSON.stringify(owner));
  t.equal(requestedOwner('bob'), 'bob');
  t.ok(mayManage({ username: 'alice', isSuperAdmin: false }, { owner: 'alice' }), 'the owner');
  t.ok(mayManage({ username: 'admin', isSuperAdmin: true }, { owner: 'alice' }), 'the super admin');
  t.notOk(mayManage({ username: 'bob', isSuperAdmin: false }, { owner: 'alice' }), 'anyone else');
  t.notOk(mayManage({ username: 'Alice', isSuperAdmin: false }, { owner: 'alice' }), 'exact, as v0.17 compares owners');
});
