/**
 * POST /oauth2/token on the wire: the password, client_credentials and
 * refresh_token grants with both client authentication styles, RFC 6749 §5.2 errors, scope rules,
 * refresh-token rotation and replay detection, expiry, and tokens stored only as hashes.
 */
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import t, { type Test } from 'tap';
import { ADMIN, ADMIN_AUTH, ADMIN_PASSWORD, basic, buildTestApp, createUser } from '../fixtures/app.js';

const REGISTER = '/client-registration/v0.17/register';
const TOKEN = '/oauth2/token';
const INTROSPECT = '/oauth2/introspect';
const FORM = 'application/x-www-form-urlencoded';
const CLIENT_CHALLENGE = 'Basic realm="wso2-dcr", charset="UTF-8"';
const JWT = /^eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
const OPAQUE = /^[A-Za-z0-9_-]{43}$/;
const UNAUTHORIZED = { code: 401, message: 'Unauthorized', description: 'The user is not authorized', moreInfo: '', error: [] };

const ALICE_PW = 'alice-Pa55word';
const BOB_PW = 'bob-Pa55word';

interface Client {
  clientId: string;
  clientSecret: string;
}

interface TokenBody {
  access_token: string;
  refresh_token?: string;
  scope: string;
  token_type: string;
  expires_in: number;
}

type Style = 'basic' | 'post';
const STYLES: Style[] = ['basic', 'post'];

async function registerApp(
  app: FastifyInstance,
  auth: string,
  body: { clientName: string; owner: string; grantType: string; tokenType?: string },
): Promise<Client> {
  const res = await app.inject({ method: 'POST', url: REGISTER, headers: { authorization: auth }, payload: body });
  if (res.statusCode !== 200) throw new Error(`registering ${body.clientName}: ${res.statusCode} ${res.body}`);
  return res.json() as Client;
}

/** A form-encoded POST with the client authenticated by `style` (or not at all). */
function post(
  app: FastifyInstance,
  url: string,
  client: Client | undefined,
  style: Style,
  params: Record<string, string | undefined>,
  headers: Record<string, string> = {},
): Promise<LightMyRequestResponse> {
  const form = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) if (value !== undefined) form.append(key, value);
  const extra: Record<string, string> = {};
  if (client && style === 'basic') extra.authorization = basic(client.clientId, client.clientSecret);
  if (client && style === 'post') {
    form.append('client_id', client.clientId);
    form.append('client_secret', client.clientSecret);
  }
  return app.inject({ method: 'POST', url, headers: { 'content-type': FORM, ...extra, ...headers }, payload: form.toString() });
}

function tokenRequest(app: FastifyInstance, client: Client | undefined, style: Style, params: Record<string, string | undefined>) {
  return post(app, TOKEN, client, style, params);
}

function assertNoStore(t: Test, res: LightMyRequestResponse): void {
  t.equal(res.headers['cache-control'], 'no-store', 'cache-control: no-store');
  t.equal(res.headers.pragma, 'no-cache', 'pragma: no-cache');
}

/** A 200 token response: exact keys in WSO2's order, Bearer, the expected scope and lifetime. */
function assertToken(
  t: Test,
  res: LightMyRequestResponse,
  expected: { refresh: boolean; scope: string; jwt: boolean; expiresIn?: number },
): TokenBody {
  t.equal(res.statusCode, 200, res.statusCode === 200 ? 'status 200' : res.body);
  assertNoStore(t, res);
  t.match(res.headers['content-type'], /^application\/json(;|$)/);
  const body = res.json() as TokenBody;
  t.same(
    Object.keys(body).sort(),
    expected.refresh
      ? ['access_token', 'expires_in', 'refresh_token', 'scope', 'token_type']
      : ['access_token', 'expires_in', 'scope', 'token_type'],
    'exactly the RFC 6749 §5.1 keys',
  );
  t.equal(body.token_type, 'Bearer');
  t.equal(body.scope, expected.scope);
  t.equal(body.expires_in, expected.expiresIn ?? 3600);
  t.match(body.access_token, expected.jwt ? JWT : OPAQUE);
  if (expected.refresh) t.match(body.refresh_token, OPAQUE);
  return body;
}

/** An RFC 6749 §5.2 error: status, no-store, exactly {error, error_description}. */
function assertOAuthError(t: Test, res: LightMyRequestResponse, status: number, error: string, description?: RegExp): void {
  t.equal(res.statusCode, status, res.statusCode === status ? `status ${status}` : res.body);
  assertNoStore(t, res);
  t.match(res.headers['content-type'], /^application\/json(;|$)/);
  const body = res.json() as { error: string; error_description: string };
  t.same(Object.keys(body).sort(), ['error', 'error_description']);
  t.same({ error: body.error }, { error });
  t.type(body.error_description, 'string');
  t.ok(body.error_description.length > 0, 'a description');
  if (description) t.match(body.error_description, description);
  if (status === 401) t.equal(res.headers['www-authenticate'], CLIENT_CHALLENGE);
  else t.notOk(res.headers['www-authenticate'], 'no challenge');
}

async function introspect(app: FastifyInstance, client: Client, token: string): Promise<Record<string, unknown>> {
  const res = await post(app, INTROSPECT, client, 'basic', { token });
  if (res.statusCode !== 200) throw new Error(`introspect: ${res.statusCode} ${res.body}`);
  return res.json() as Record<string, unknown>;
}

t.test('token endpoint', async (t) => {
  const { app, db } = await buildTestApp(t);
  await createUser(app, 'alice', ALICE_PW);
  const ALL = 'client_credentials password refresh_token';
  const jwtApp = await registerApp(app, ADMIN_AUTH, { clientName: 'jwt-app', owner: ADMIN, grantType: ALL, tokenType: 'JWT' });
  const opaqueApp = await registerApp(app, ADMIN_AUTH, { clientName: 'opaque-app', owner: ADMIN, grantType: ALL });
  const ccApp = await registerApp(app, ADMIN_AUTH, { clientName: 'cc-app', owner: ADMIN, grantType: 'client_credentials' });
  const noRefreshApp = await registerApp(app, ADMIN_AUTH, {
    clientName: 'no-refresh-app',
    owner: ADMIN,
    grantType: 'password client_credentials',
  });
  const apps: [string, Client, boolean][] = [
    ['JWT app', jwtApp, true],
    ['opaque app', opaqueApp, false],
  ];

  t.test('grants × client authentication styles', async (t) => {
    for (const [label, client, jwt] of apps) {
      for (const style of STYLES) {
        t.test(`${label}, client_secret_${style}`, async (t) => {
          const pw = assertToken(
            t,
            await tokenRequest(app, client, style, { grant_type: 'password', username: 'alice', password: ALICE_PW, scope: 'apim:dcr:app_manage' }),
            { refresh: true, scope: 'apim:dcr:app_manage', jwt },
          );
          const active = await introspect(app, client, pw.access_token);
          t.equal(active.active, true);
          t.equal(active.username, 'alice');
          t.equal(active.client_id, client.clientId);

          const cc = assertToken(t, await tokenRequest(app, client, style, { grant_type: 'client_credentials', scope: 'openid' }), {
            refresh: false,
            scope: 'openid',
            jwt,
          });
          const ccActive = await introspect(app, client, cc.access_token);
          t.equal(ccActive.active, true);
          t.equal(ccActive.username, ADMIN, "client_credentials acts for the app's owner");

          const refreshed = assertToken(
            t,
            await tokenRequest(app, client, style, { grant_type: 'refresh_token', refresh_token: pw.refresh_token }),
            { refresh: true, scope: 'apim:dcr:app_manage', jwt },
          );
          t.not(refreshed.access_token, pw.access_token, 'a new access token');
          t.not(refreshed.refresh_token, pw.refresh_token, 'a new refresh token');
          t.equal((await introspect(app, client, refreshed.access_token)).username, 'alice');
        });
      }
    }
  });

  t.test('refresh tokens only for apps registered for refresh_token', async (t) => {
    for (const style of STYLES) {
      assertToken(
        t,
        await tokenRequest(app, noRefreshApp, style, { grant_type: 'password', username: 'alice', password: ALICE_PW }),
        { refresh: false, scope: 'default', jwt: false },
      );
      assertToken(t, await tokenRequest(app, noRefreshApp, style, { grant_type: 'client_credentials' }), {
        refresh: false,
        scope: 'default',
        jwt: false,
      });
      assertToken(t, await tokenRequest(app, ccApp, style, { grant_type: 'client_credentials' }), {
        refresh: false,
        scope: 'default',
        jwt: false,
      });
      assertOAuthError(
        t,
        await tokenRequest(app, noRefreshApp, style, { grant_type: 'refresh_token', refresh_token: 'x'.repeat(43) }),
        400,
        'unauthorized_client',
      );
    }
  });

  t.test('client authentication errors', async (t) => {
    for (const style of STYLES) {
      t.test(style, async (t) => {
        const params = { grant_type: 'client_credentials' };
        assertOAuthError(
          t,
          await tokenRequest(app, { clientId: jwtApp.clientId, clientSecret: `${jwtApp.clientSecret}x` }, style, params),
          401,
          'invalid_client',
        );
        assertOAuthError(t, await tokenRequest(app, { clientId: jwtApp.clientId, clientSecret: opaqueApp.clientSecret }, style, params), 401, 'invalid_client');
        assertOAuthError(t, await tokenRequest(app, { clientId: 'no-such-client', clientSecret: jwtApp.clientSecret }, style, params), 401, 'invalid_client');
        // The same answer whatever else is wrong with the request: the client is checked first.
        assertOAuthError(t, await tokenRequest(app, { clientId: 'no-such-client', clientSecret: 'x' }, style, { grant_type: 'foo' }), 401, 'invalid_client');
        assertOAuthError(t, await tokenRequest(app, { clientId: 'no-such-client', clientSecret: 'x' }, style, {}), 401, 'invalid_client');
      });
    }
    t.test('no client authentication at all', async (t) => {
      assertOAuthError(t, await tokenRequest(app, undefined, 'post', { grant_type: 'client_credentials' }), 401, 'invalid_client');
    });
    t.test('client_id without a secret (public clients are not supported)', async (t) => {
      assertOAuthError(
        t,
        await tokenRequest(app, undefined, 'post', { grant_type: 'client_credentials', client_id: jwtApp.clientId }),
        401,
        'invalid_client',
      );
    });
    t.test('a Basic header that is not base64(id:secret)', async (t) => {
      for (const authorization of ['Basic !!!', 'Basic ', `Basic ${Buffer.from('no-colon').toString('base64')}`]) {
        const res = await post(app, TOKEN, undefined, 'basic', { grant_type: 'client_credentials' }, { authorization });
        assertOAuthError(t, res, 401, 'invalid_client');
      }
    });
    t.test('a user password in the Basic header is not a client secret', async (t) => {
      const res = await post(app, TOKEN, undefined, 'basic', { grant_type: 'client_credentials' }, { authorization: ADMIN_AUTH });
      assertOAuthError(t, res, 401, 'invalid_client');
    });
    t.test('Basic and client_secret in the form at once → invalid_request', async (t) => {
      const res = await post(
        app,
        TOKEN,
        jwtApp,
        'basic',
        { grant_type: 'client_credentials', client_secret: jwtApp.clientSecret },
      );
      assertOAuthError(t, res, 400, 'invalid_request');
      const withId = await post(app, TOKEN, jwtApp, 'basic', {
        grant_type: 'client_credentials',
        client_id: jwtApp.clientId,
        client_secret: jwtApp.clientSecret,
      });
      assertOAuthError(t, withId, 400, 'invalid_request');
    });
    t.test('Basic with a matching client_id in the form is fine', async (t) => {
      const res = await post(app, TOKEN, jwtApp, 'basic', { grant_type: 'client_credentials', client_id: jwtApp.clientId });
      assertToken(t, res, { refresh: false, scope: 'default', jwt: true });
    });
    t.test('Basic with another client_id in the form → invalid_request', async (t) => {
      const res = await post(app, TOKEN, jwtApp, 'basic', { grant_type: 'client_credentials', client_id: opaqueApp.clientId });
      assertOAuthError(t, res, 400, 'invalid_request');
    });
  });

  t.test('request errors', async (t) => {
    for (const style of STYLES) {
      t.test(style, async (t) => {
        assertOAuthError(t, await tokenRequest(app, jwtApp, style, {}), 400, 'invalid_request', /grant_type/);
        assertOAuthError(t, await tokenRequest(app, jwtApp, style, { grant_type: '' }), 400, 'invalid_request');
        for (const grant of ['foo', 'authorization_code', 'implicit', 'urn:ietf:params:oauth:grant-type:jwt-bearer', 'PASSWORD']) {
          assertOAuthError(t, await tokenRequest(app, jwtApp, style, { grant_type: grant }), 400, 'unsupported_grant_type');
        }
        // Grants the app did not register.
        assertOAuthError(
          t,
          await tokenRequest(app, ccApp, style, { grant_type: 'password', username: 'alice', password: ALICE_PW }),
          400,
          'unauthorized_client',
        );
        assertOAuthError(t, await tokenRequest(app, ccApp, style, { grant_type: 'refresh_token', refresh_token: 'abc' }), 400, 'unauthorized_client');
        // Resource owner credentials.
        assertOAuthError(
          t,
          await tokenRequest(app, jwtApp, style, { grant_type: 'password', username: 'alice', password: 'wrong-password' }),
          400,
          'invalid_grant',
        );
        assertOAuthError(
          t,
          await tokenRequest(app, jwtApp, style, { grant_type: 'password', username: 'nobody', password: ALICE_PW }),
          400,
          'invalid_grant',
        );
        assertOAuthError(
          t,
          await tokenRequest(app, jwtApp, style, { grant_type: 'password', username: 'Alice', password: ALICE_PW }),
          400,
          'invalid_grant',
          undefined,
        );
        assertOAuthError(t, await tokenRequest(app, jwtApp, style, { grant_type: 'password', password: ALICE_PW }), 400, 'invalid_request');
        assertOAuthError(t, await tokenRequest(app, jwtApp, style, { grant_type: 'password', username: 'alice' }), 400, 'invalid_request');
        assertOAuthError(
          t,
          await tokenRequest(app, jwtApp, style, { grant_type: 'password', username: '', password: ALICE_PW }),
          400,
          'invalid_request',
        );
        // Refresh token parameter.
        assertOAuthError(t, await tokenRequest(app, jwtApp, style, { grant_type: 'refresh_token' }), 400, 'invalid_request');
        assertOAuthError(
          t,
          await tokenRequest(app, jwtApp, style, { grant_type: 'refresh_token', refresh_token: 'not-a-refresh-token' }),
          400,
          'invalid_grant',
        );
      });
    }

    t.test('an access token is not a refresh token', async (t) => {
      for (const client of [jwtApp, opaqueApp]) {
        const issued = assertToken(
          t,
          await tokenRequest(app, client, 'basic', { grant_type: 'password', username: 'alice', password: ALICE_PW }),
          { refresh: true, scope: 'default', jwt: client === jwtApp },
        );
        assertOAuthError(
          t,
          await tokenRequest(app, client, 'basic', { grant_type: 'refresh_token', refresh_token: issued.access_token }),
          400,
          'invalid_grant',
        );
      }
    });

    t.test('a JSON body → 415 in the OAuth error shape', async (t) => {
      const res = await app.inject({
        method: 'POST',
        url: TOKEN,
        headers: { authorization: basic(jwtApp.clientId, jwtApp.clientSecret), 'content-type': 'application/json' },
        payload: { grant_type: 'client_credentials' },
      });
      t.equal(res.statusCode, 415, res.body);
      assertNoStore(t, res);
      const body = res.json() as { error: string; error_description: string };
      t.same(Object.keys(body).sort(), ['error', 'error_description']);
      t.same({ error: body.error }, { error: 'invalid_request' });
      t.match(body.error_description, /application\/x-www-form-urlencoded/);
    });

    t.test('a body without Content-Type → 415 naming form encoding, not JSON', async (t) => {
      const res = await app.inject({
        method: 'POST',
        url: TOKEN,
        headers: { authorization: basic(jwtApp.clientId, jwtApp.clientSecret) },
        payload: 'grant_type=client_credentials',
      });
      assertOAuthError(t, res, 415, 'invalid_request', /^The request body must be application\/x-www-form-urlencoded$/);
      for (const url of [INTROSPECT, '/oauth2/revoke']) {
        const other = await app.inject({ method: 'POST', url, headers: { authorization: basic(jwtApp.clientId, jwtApp.clientSecret) }, payload: 'token=x' });
        assertOAuthError(t, other, 415, 'invalid_request', /^The request body must be application\/x-www-form-urlencoded$/);
      }
    });

    t.test('a form in another charset or under a content coding → 415 invalid_request', async (t) => {
      const headers = { authorization: basic(jwtApp.clientId, jwtApp.clientSecret), 'content-type': `${FORM}; charset=ISO-8859-1` };
      const latin1 = await app.inject({ method: 'POST', url: TOKEN, headers, payload: 'grant_type=client_credentials' });
      assertOAuthError(t, latin1, 415, 'invalid_request', /^The request body must be UTF-8 \(charset=utf-8, or no charset\), not charset=ISO-8859-1$/);
      const gzip = await app.inject({
        method: 'POST',
        url: TOKEN,
        headers: { ...headers, 'content-type': FORM, 'content-encoding': 'gzip' },
        payload: gzipSync('grant_type=client_credentials'),
      });
      assertOAuthError(t, gzip, 415, 'invalid_request', /^Content-Encoding gzip is not supported/);
      t.equal(gzip.headers['accept-encoding'], 'identity');
    });

    t.test('no body at all → 400 invalid_request', async (t) => {
      const res = await app.inject({
        method: 'POST',
        url: TOKEN,
        headers: { authorization: basic(jwtApp.clientId, jwtApp.clientSecret) },
      });
      assertOAuthError(t, res, 400, 'invalid_request');
    });

    t.test('form details: repeated parameters, unknown parameters, charset, size', async (t) => {
      const raw = (payload: string, contentType = FORM) =>
        app.inject({
          method: 'POST',
          url: TOKEN,
          headers: { authorization: basic(jwtApp.clientId, jwtApp.clientSecret), 'content-type': contentType },
          payload,
        });
      // RFC 6749 §3.2: parameters must not be included more than once.
      assertOAuthError(t, await raw('grant_type=client_credentials&grant_type=client_credentials'), 400, 'invalid_request');
      assertOAuthError(t, await raw('grant_type=client_credentials&scope=openid&scope=openid'), 400, 'invalid_request');
      // Unknown parameters are ignored.
      assertToken(t, await raw('grant_type=client_credentials&foo=bar&scope=openid'), { refresh: false, scope: 'openid', jwt: true });
      // '+' is a space in a form body.
      assertToken(t, await raw('grant_type=client_credentials&scope=openid+apim%3Adcr%3Aapp_manage'), {
        refresh: false,
        scope: 'apim:dcr:app_manage openid',
        jwt: true,
      });
      assertToken(t, await raw('grant_type=client_credentials', `${FORM}; charset=UTF-8`), { refresh: false, scope: 'default', jwt: true });
      const text = await raw('grant_type=client_credentials', 'text/plain');
      t.equal(text.statusCode, 415);
      assertNoStore(t, text);
      t.same(Object.keys(text.json() as object).sort(), ['error', 'error_description']);
      const big = await raw(`grant_type=client_credentials&scope=${'a'.repeat(70_000)}`);
      t.equal(big.statusCode, 413);
      assertNoStore(t, big);
      t.same(Object.keys(big.json() as object).sort(), ['error', 'error_description']);
    });

    t.test('GET on the token endpoint → 405 in the OAuth error shape', async (t) => {
      const res = await app.inject({ method: 'GET', url: TOKEN });
      t.equal(res.statusCode, 405);
      t.equal(res.headers.allow, 'POST');
      assertNoStore(t, res);
      const body = res.json() as { error: string };
      t.same(Object.keys(body).sort(), ['error', 'error_description']);
    });
  });

  t.test('scopes', async (t) => {
    const cases: [string | undefined, string][] = [
      ['apim:dcr:app_manage openid foo', 'apim:dcr:app_manage openid'],
      ['openid apim:dcr:app_manage', 'apim:dcr:app_manage openid'],
      ['openid openid', 'openid'],
      ['foo', 'default'],
      ['default', 'default'],
      ['', 'default'],
      [undefined, 'default'],
    ];
    for (const [requested, granted] of cases) {
      for (const style of STYLES) {
        assertToken(
          t,
          await tokenRequest(app, opaqueApp, style, { grant_type: 'password', username: 'alice', password: ALICE_PW, scope: requested }),
          { refresh: true, scope: granted, jwt: false },
        );
        assertToken(t, await tokenRequest(app, jwtApp, style, { grant_type: 'client_credentials', scope: requested }), {
          refresh: false,
          scope: granted,
          jwt: true,
        });
      }
    }
  });

  t.test('refresh token rotation', async (t) => {
    const password = (client: Client, scope = 'apim:dcr:app_manage openid') =>
      tokenRequest(app, client, 'post', { grant_type: 'password', username: 'alice', password: ALICE_PW, scope });
    const refresh = (client: Client, refreshToken: string | undefined, scope?: string) =>
      tokenRequest(app, client, 'basic', { grant_type: 'refresh_token', refresh_token: refreshToken, scope });

    for (const [label, client, jwt] of apps) {
      t.test(`${label}: a used refresh token stops working`, async (t) => {
        const first = assertToken(t, await password(client), { refresh: true, scope: 'apim:dcr:app_manage openid', jwt });
        const second = assertToken(t, await refresh(client, first.refresh_token), { refresh: true, scope: 'apim:dcr:app_manage openid', jwt });
        assertOAuthError(t, await refresh(client, first.refresh_token), 400, 'invalid_grant');
        t.equal((await introspect(app, client, first.refresh_token!)).active, false, 'the used refresh token introspects inactive');
      });

      t.test(`${label}: reuse of a used refresh token revokes the family`, async (t) => {
        const first = assertToken(t, await password(client), { refresh: true, scope: 'apim:dcr:app_manage openid', jwt });
        const second = assertToken(t, await refresh(client, first.refresh_token), { refresh: true, scope: 'apim:dcr:app_manage openid', jwt });
        const third = assertToken(t, await refresh(client, second.refresh_token), { refresh: true, scope: 'apim:dcr:app_manage openid', jwt });
        // An unrelated grant of the same user and client stays untouched.
        const other = assertToken(t, await password(client), { refresh: true, scope: 'apim:dcr:app_manage openid', jwt });
        t.equal((await introspect(app, client, third.access_token)).active, true);
        t.equal((await introspect(app, client, third.refresh_token!)).active, true);

        // The replay: the first refresh token again.
        assertOAuthError(t, await refresh(client, first.refresh_token), 400, 'invalid_grant');
        for (const token of [first.access_token, second.access_token, third.access_token, third.refresh_token!]) {
          t.same(await introspect(app, client, token), { active: false });
        }
        assertOAuthError(t, await refresh(client, third.refresh_token), 400, 'invalid_grant', undefined);
        const bearer = await app.inject({
          method: 'POST',
          url: REGISTER,
          headers: { authorization: `Bearer ${third.access_token}` },
          payload: { clientName: `after-replay-${label}`.replace(/ /g, '-'), owner: 'alice', grantType: 'password' },
        });
        t.equal(bearer.statusCode, 401);
        t.same(bearer.json(), UNAUTHORIZED);

        t.equal((await introspect(app, client, other.access_token)).active, true, 'another grant survives');
        assertToken(t, await refresh(client, other.refresh_token), { refresh: true, scope: 'apim:dcr:app_manage openid', jwt });
      });

      t.test(`${label}: narrower scope works, wider scope is invalid_scope`, async (t) => {
        const first = assertToken(t, await password(client), { refresh: true, scope: 'apim:dcr:app_manage openid', jwt });
        const narrow = assertToken(t, await refresh(client, first.refresh_token, 'openid'), { refresh: true, scope: 'openid', jwt });
        assertOAuthError(t, await refresh(client, narrow.refresh_token, 'openid apim:dcr:app_manage'), 400, 'invalid_scope');
        assertOAuthError(t, await refresh(client, narrow.refresh_token, 'foo'), 400, 'invalid_scope');
        // invalid_scope does not consume the refresh token.
        assertToken(t, await refresh(client, narrow.refresh_token, 'openid'), { refresh: true, scope: 'openid', jwt });

        const defaultOnly = assertToken(t, await password(client, 'foo'), { refresh: true, scope: 'default', jwt });
        assertOAuthError(t, await refresh(client, defaultOnly.refresh_token, 'openid'), 400, 'invalid_scope');
        assertToken(t, await refresh(client, defaultOnly.refresh_token), { refresh: true, scope: 'default', jwt });
      });
    }

    t.test("a refresh token of app A presented by app B → invalid_grant, and A's token still works", async (t) => {
      const mine = assertToken(t, await password(jwtApp), { refresh: true, scope: 'apim:dcr:app_manage openid', jwt: true });
      assertOAuthError(t, await refresh(opaqueApp, mine.refresh_token), 400, 'invalid_grant');
      assertOAuthError(t, await refresh(opaqueApp, mine.refresh_token), 400, 'invalid_grant');
      t.equal((await introspect(app, jwtApp, mine.access_token)).active, true, 'no family revocation by a stranger');
      const next = assertToken(t, await refresh(jwtApp, mine.refresh_token), { refresh: true, scope: 'apim:dcr:app_manage openid', jwt: true });
      // A used token of A presented by B does not revoke A's family either.
      assertOAuthError(t, await refresh(opaqueApp, mine.refresh_token), 400, 'invalid_grant');
      t.equal((await introspect(app, jwtApp, next.access_token)).active, true);
      t.equal((await introspect(app, jwtApp, next.refresh_token!)).active, true);
    });

    t.test('a refresh token issued for one user stays that user', async (t) => {
      const adminToken = assertToken(
        t,
        await tokenRequest(app, opaqueApp, 'basic', { grant_type: 'password', username: ADMIN, password: ADMIN_PASSWORD }),
        { refresh: true, scope: 'default', jwt: false },
      );
      const next = assertToken(t, await refresh(opaqueApp, adminToken.refresh_token), { refresh: true, scope: 'default', jwt: false });
      t.equal((await introspect(app, opaqueApp, next.access_token)).username, ADMIN);
    });

    t.test('20 concurrent refreshes of one token → exactly one 200', async (t) => {
      const first = assertToken(t, await password(opaqueApp), { refresh: true, scope: 'apim:dcr:app_manage openid', jwt: false });
      const results = await Promise.all(Array.from({ length: 20 }, () => refresh(opaqueApp, first.refresh_token)));
      const ok = results.filter((res) => res.statusCode === 200);
      t.equal(ok.length, 1, 'one winner');
      t.equal(results.filter((res) => res.statusCode === 400).length, 19, 'the rest are 400');
      for (const res of results) {
        if (res.statusCode === 200) assertToken(t, res, { refresh: true, scope: 'apim:dcr:app_manage openid', jwt: false });
        else assertOAuthError(t, res, 400, 'invalid_grant');
      }
      // The losers are replays of a used token (RFC 6819 §5.2.2.3): the whole family ends revoked,
      // including what the winner got, whichever order the requests ran in.
      const won = ok[0]!.json() as TokenBody;
      t.same(await introspect(app, opaqueApp, won.access_token), { active: false });
      t.same(await introspect(app, opaqueApp, won.refresh_token!), { active: false });
      assertOAuthError(t, await refresh(opaqueApp, won.refresh_token), 400, 'invalid_grant');
    });

    t.test('2 concurrent refreshes, many times: the replay always revokes what the winner got', async (t) => {
      // The tight race: the loser's family revocation may run before the winner has stored its
      // new tokens. Those must not escape the revocation (src/repositories/tokens.ts, FAMILY_LOCK).
      const survivors: number[] = [];
      for (let round = 0; round < 16; round++) {
        const client = round % 2 === 0 ? opaqueApp : jwtApp;
        const first = (await password(client)).json() as TokenBody;
        const results = await Promise.all([refresh(client, first.refresh_token), refresh(client, first.refresh_token)]);
        const ok = results.filter((res) => res.statusCode === 200);
        t.equal(ok.length, 1, `round ${round}: one winner`);
        const won = ok[0]?.json() as TokenBody | undefined;
        if (!won) continue;
        const states = await Promise.all([introspect(app, client, won.access_token), introspect(app, client, won.refresh_token!)]);
        if (states.some((state) => state.active !== false)) survivors.push(round);
      }
      t.same(survivors, [], 'no round left the winner with live tokens');
    });
  });

  t.test('storage: tokens only as hashes', async (t) => {
    const storeJwt = await registerApp(app, ADMIN_AUTH, { clientName: 'store-jwt', owner: ADMIN, grantType: ALL, tokenType: 'JWT' });
    const storeOpaque = await registerApp(app, ADMIN_AUTH, { clientName: 'store-opaque', owner: ADMIN, grantType: ALL });

    const opaqueAccess: string[] = [];
    const refreshTokens: string[] = [];
    const jwts: string[] = [];
    for (const [client, jwt] of [
      [storeJwt, true],
      [storeOpaque, false],
    ] as const) {
      const pw = assertToken(t, await tokenRequest(app, client, 'basic', { grant_type: 'password', username: 'alice', password: ALICE_PW }), {
        refresh: true,
        scope: 'default',
        jwt,
      });
      const rt = assertToken(t, await tokenRequest(app, client, 'basic', { grant_type: 'refresh_token', refresh_token: pw.refresh_token }), {
        refresh: true,
        scope: 'default',
        jwt,
      });
      const cc = assertToken(t, await tokenRequest(app, client, 'basic', { grant_type: 'client_credentials' }), { refresh: false, scope: 'default', jwt });
      (jwt ? jwts : opaqueAccess).push(pw.access_token, rt.access_token, cc.access_token);
      refreshTokens.push(pw.refresh_token!, rt.refresh_token!);
    }

    // This test's apps only: the other tests share the database.
    const mine = 'app_id IN (SELECT id FROM applications WHERE client_id = ANY($1))';
    const ids = [storeJwt.clientId, storeOpaque.clientId];
    const access = await db.query<Record<string, unknown>>(`SELECT * FROM access_tokens WHERE ${mine}`, [ids]);
    const refresh = await db.query<Record<string, unknown>>(`SELECT * FROM refresh_tokens WHERE ${mine}`, [ids]);
    t.equal(access.rows.length, 6);
    t.equal(refresh.rows.length, 4);

    // Every column, in every textual form a buffer could take.
    const dump = [...access.rows, ...refresh.rows]
      .flatMap((row) =>
        Object.values(row).map((value) =>
          Buffer.isBuffer(value)
            ? [value.toString('utf8'), value.toString('hex'), value.toString('base64'), value.toString('base64url')].join(' ')
            : JSON.stringify(value),
        ),
      )
      .join('\n');
    for (const token of [...opaqueAccess, ...refreshTokens]) {
      t.notOk(dump.includes(token), 'the token string is not stored');
    }
    for (const token of jwts) {
      t.notOk(dump.includes(token), 'the JWT is not stored');
      t.notOk(dump.includes(token.split('.')[2]!), 'nor its signature');
    }

    const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');
    // An access token's row id: a JWT's jti, or the first 128 bits of an opaque token's SHA-256.
    const accessIds = access.rows.map((row) => row.id as string);
    const asUuid = (hex: string) => hex.slice(0, 32).replace(/^(.{8})(.{4})(.{4})(.{4})(.{12})$/, '$1-$2-$3-$4-$5');
    for (const token of opaqueAccess) t.ok(accessIds.includes(asUuid(sha256(token))), 'an opaque access token is found by its SHA-256');
    for (const token of jwts) {
      const { jti } = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8')) as { jti: string };
      t.ok(accessIds.includes(jti), 'a JWT is found by its jti');
    }
    t.notOk('token_hash' in access.rows[0]!, 'no other key to an access token');
    const refreshHashes = refresh.rows.map((row) => (row.token_hash as Buffer).toString('hex'));
    for (const token of refreshTokens) t.ok(refreshHashes.includes(sha256(token)), 'a refresh token is found by its SHA-256');
  });
});

t.test('apim:dcr:app_manage restricted to listed users (appManageUsers)', async (t) => {
  const { app } = await buildTestApp(t, { appManageUsers: ['alice'] });
  await createUser(app, 'alice', ALICE_PW);
  await createUser(app, 'bob', BOB_PW);
  const client = await registerApp(app, ADMIN_AUTH, { clientName: 'policy-app', owner: ADMIN, grantType: 'password client_credentials refresh_token' });
  const bobApp = await registerApp(app, basic('bob', BOB_PW), { clientName: 'bob-app', owner: 'bob', grantType: 'client_credentials' });
  const aliceApp = await registerApp(app, basic('alice', ALICE_PW), { clientName: 'alice-app', owner: 'alice', grantType: 'client_credentials' });

  const ask = (username: string, password: string, scope: string) =>
    tokenRequest(app, client, 'basic', { grant_type: 'password', username, password, scope });

  assertToken(t, await ask('bob', BOB_PW, 'apim:dcr:app_manage'), { refresh: true, scope: 'default', jwt: false });
  assertToken(t, await ask('bob', BOB_PW, 'apim:dcr:app_manage openid'), { refresh: true, scope: 'openid', jwt: false });
  assertToken(t, await ask('alice', ALICE_PW, 'apim:dcr:app_manage'), { refresh: true, scope: 'apim:dcr:app_manage', jwt: false });
  assertToken(t, await ask(ADMIN, ADMIN_PASSWORD, 'apim:dcr:app_manage openid'), {
    refresh: true,
    scope: 'apim:dcr:app_manage openid',
    jwt: false,
  });
  // client_credentials acts for the owner, so the owner's rights apply.
  assertToken(t, await tokenRequest(app, bobApp, 'post', { grant_type: 'client_credentials', scope: 'apim:dcr:app_manage' }), {
    refresh: false,
    scope: 'default',
    jwt: false,
  });
  assertToken(t, await tokenRequest(app, aliceApp, 'post', { grant_type: 'client_credentials', scope: 'apim:dcr:app_manage' }), {
    refresh: false,
    scope: 'apim:dcr:app_manage',
    jwt: false,
  });
  // bob's token cannot register; alice's can.
  const bobToken = (await ask('bob', BOB_PW, 'apim:dcr:app_manage')).json() as TokenBody;
  const denied = await app.inject({
    method: 'POST',
    url: REGISTER,
    headers: { authorization: `Bearer ${bobToken.access_token}` },
    payload: { clientName: 'bob-bearer', owner: 'bob', grantType: 'password' },
  });
  t.equal(denied.statusCode, 401);
  t.same(denied.json(), UNAUTHORIZED);
  const aliceToken = (await ask('alice', ALICE_PW, 'apim:dcr:app_manage')).json() as TokenBody;
  const allowed = await app.inject({
    method: 'POST',
    url: REGISTER,
    headers: { authorization: `Bearer ${aliceToken.access_token}` },
    payload: { clientName: 'alice-bearer', owner: 'alice', grantType: 'password' },
  });
  t.equal(allowed.statusCode, 200, allowed.body);
});

t.test('expiry', async (t) => {
  const { app, db } = await buildTestApp(t, { refreshTokenTtlSeconds: 60, accessTokenTtlSeconds: 60 });
  await createUser(app, 'alice', ALICE_PW);
  const ALL = 'client_credentials password refresh_token';
  const jwtApp = await registerApp(app, basic('alice', ALICE_PW), { clientName: 'exp-jwt', owner: 'alice', grantType: ALL, tokenType: 'JWT' });
  const opaqueApp = await registerApp(app, basic('alice', ALICE_PW), { clientName: 'exp-opaque', owner: 'alice', grantType: ALL });

  const issued: [Client, TokenBody][] = [];
  for (const [client, jwt] of [
    [jwtApp, true],
    [opaqueApp, false],
  ] as const) {
    const body = assertToken(
      t,
      await tokenRequest(app, client, 'basic', { grant_type: 'password', username: 'alice', password: ALICE_PW, scope: 'apim:dcr:app_manage' }),
      { refresh: true, scope: 'apim:dcr:app_manage', jwt, expiresIn: 60 },
    );
    issued.push([client, body]);
  }
  let n = 0;
  const registerWith = (token: string) =>
    app.inject({
      method: 'POST',
      url: REGISTER,
      headers: { authorization: `Bearer ${token}` },
      payload: { clientName: `exp-reg-${++n}`, owner: 'alice', grantType: 'password' },
    });
  for (const [client, body] of issued) {
    t.equal((await registerWith(body.access_token)).statusCode, 200, 'works before expiry');
    t.equal((await introspect(app, client, body.access_token)).active, true);
  }

  await db.query("update access_tokens set expires_at = now() - interval '1 second'");
  for (const [client, body] of issued) {
    const res = await registerWith(body.access_token);
    t.equal(res.statusCode, 401, 'an expired access token is refused');
    t.same(res.json(), UNAUTHORIZED);
    t.ok(res.headers['www-authenticate']);
    t.same(await introspect(app, client, body.access_token), { active: false });
    t.equal((await introspect(app, client, body.refresh_token!)).active, true, 'the refresh token lives on');
  }

  // An expired access token is what refresh tokens are for.
  const [jwtClient, jwtBody] = issued[0]!;
  const renewed = assertToken(t, await tokenRequest(app, jwtClient, 'basic', { grant_type: 'refresh_token', refresh_token: jwtBody.refresh_token }), {
    refresh: true,
    scope: 'apim:dcr:app_manage',
    jwt: true,
    expiresIn: 60,
  });
  t.equal((await registerWith(renewed.access_token)).statusCode, 200);

  await db.query("update refresh_tokens set expires_at = now() - interval '1 second'");
  const [opaqueClient, opaqueBody] = issued[1]!;
  assertOAuthError(
    t,
    await tokenRequest(app, opaqueClient, 'post', { grant_type: 'refresh_token', refresh_token: opaqueBody.refresh_token }),
    400,
    'invalid_grant',
  );
  t.same(await introspect(app, opaqueClient, opaqueBody.refresh_token!), { active: false });
  assertOAuthError(
    t,
    await tokenRequest(app, jwtClient, 'post', { grant_type: 'refresh_token', refresh_token: renewed.refresh_token }),
    400,
    'invalid_grant',
  );
});

t.test('a verified client is remembered (DCR_AUTH_CACHE_TTL), never a wrong secret', async (t) => {
  for (const ttl of [300, 0]) {
    t.test(`TTL ${ttl}`, async (t) => {
      const { app, db, appDb } = await buildTestApp(t, { authCacheTtlSeconds: ttl });
      const client = await registerApp(app, ADMIN_AUTH, { clientName: 'remembered', owner: ADMIN, grantType: 'client_credentials password' });
      const other = await registerApp(app, ADMIN_AUTH, { clientName: 'other', owner: ADMIN, grantType: 'client_credentials' });
      // Counts the application lookups by client id (the statement the cache saves), on the
      // services' pool (dcr_app), where every lookup runs in its tenant's scope.
      let lookups = 0;
      const queryIn = appDb.queryIn.bind(appDb);
      appDb.queryIn = ((scope: Parameters<typeof appDb.queryIn>[0], statement: Parameters<typeof appDb.queryIn>[1], values?: unknown[]) => {
        if (typeof statement !== 'string' && /^applications?_by_client_id$/.test(statement.name)) lookups++;
        return queryIn(scope, statement, values);
      }) as typeof appDb.queryIn;
      const cc = { grant_type: 'client_credentials' };
      const remembered = ttl > 0;

      for (const style of STYLES) assertToken(t, await tokenRequest(app, client, style, cc), { refresh: false, scope: 'default', jwt: false });
      t.equal(lookups, remembered ? 1 : 2, 'the second request, by either style, looks nothing up when remembered');

      // A remembered client id with any other secret goes to the database, and fails there.
      assertOAuthError(t, await tokenRequest(app, { ...client, clientSecret: `${client.clientSecret}x` }, 'basic', cc), 401, 'invalid_client');
      assertOAuthError(t, await tokenRequest(app, { ...client, clientSecret: other.clientSecret }, 'post', cc), 401, 'invalid_client');
      t.equal(lookups, remembered ? 3 : 4);
      // Failures are not remembered, and do not evict the right secret.
      assertOAuthError(t, await tokenRequest(app, { ...client, clientSecret: 'wrong' }, 'basic', cc), 401, 'invalid_client');
      assertOAuthError(t, await tokenRequest(app, { ...client, clientSecret: 'wrong' }, 'basic', cc), 401, 'invalid_client');
      t.equal(lookups, remembered ? 5 : 6);
      assertToken(t, await tokenRequest(app, client, 'basic', cc), { refresh: false, scope: 'default', jwt: false });
      t.equal(lookups, remembered ? 5 : 7);

      // The grant checks still run on a remembered client.
      assertOAuthError(t, await tokenRequest(app, client, 'basic', { grant_type: 'refresh_token', refresh_token: 'x' }), 400, 'unauthorized_client');

      // An app row deleted behind the cache (the API deletes none; an operator could): the token's
      // INSERT refuses it by its foreign key, and the client is then unknown, not a 500.
      await db.query('DELETE FROM applications WHERE client_id = $1', [client.clientId]);
      assertOAuthError(t, await tokenRequest(app, client, 'basic', cc), 401, 'invalid_client');
      assertOAuthError(t, await tokenRequest(app, client, 'post', { grant_type: 'password', username: ADMIN, password: ADMIN_PASSWORD }), 401, 'invalid_client');
      const [{ count }] = (await db.query<{ count: string }>('SELECT count(*) FROM access_tokens WHERE app_id NOT IN (SELECT id FROM applications)')).rows as [{ count: string }];
      t.equal(count, '0', 'no token row without its app');
    });
  }
});
