/**
 * JWT access tokens verified the way a resource server would (jose + GET /oauth2/jwks), signing-key
 * rotation, introspection (RFC 7662), revocation (RFC 7009) and the RFC 8414 metadata document.
 */
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { createLocalJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose';
import t, { type Test } from 'tap';
import { SUPER_TENANT } from '../../src/domain/tenants.js';
import { buildApp } from '../../src/app.js';
import { createServices } from '../../src/runtime/composition.js';
import { ADMIN, ADMIN_AUTH, FAST_HASHER, ISSUER, PUBLIC_URL, TEST_SERVICE_CONFIG, basic, buildTestApp, createUser } from '../fixtures/app.js';

const REGISTER = '/client-registration/v0.17/register';
const FORM = 'application/x-www-form-urlencoded';
const APP_MANAGE = 'apim:dcr:app_manage';
const ALICE_PW = 'alice-Pa55word';
const ALL_GRANTS = 'client_credentials password refresh_token';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const CLIENT_CHALLENGE = 'Basic realm="wso2-dcr", charset="UTF-8"';

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

async function registerApp(app: FastifyInstance, auth: string, payload: Record<string, unknown>): Promise<Client> {
  const res = await app.inject({ method: 'POST', url: REGISTER, headers: { authorization: auth }, payload });
  if (res.statusCode !== 200) throw new Error(`register: ${res.statusCode} ${res.body}`);
  return res.json() as Client;
}

function formPost(
  app: FastifyInstance,
  url: string,
  client: Client | undefined,
  params: Record<string, string>,
  style: 'basic' | 'post' = 'basic',
): Promise<LightMyRequestResponse> {
  const body = new URLSearchParams(params);
  const headers: Record<string, string> = { 'content-type': FORM };
  if (client && style === 'basic') headers.authorization = basic(client.clientId, client.clientSecret);
  if (client && style === 'post') {
    body.append('client_id', client.clientId);
    body.append('client_secret', client.clientSecret);
  }
  return app.inject({ method: 'POST', url, headers, payload: body.toString() });
}

async function passwordToken(app: FastifyInstance, client: Client, scope = APP_MANAGE, username = 'alice', password = ALICE_PW): Promise<TokenBody> {
  const res = await formPost(app, '/oauth2/token', client, { grant_type: 'password', username, password, scope });
  if (res.statusCode !== 200) throw new Error(`token: ${res.statusCode} ${res.body}`);
  return res.json() as TokenBody;
}

async function introspect(app: FastifyInstance, client: Client, token: string, extra: Record<string, string> = {}) {
  const res = await formPost(app, '/oauth2/introspect', client, { token, ...extra });
  if (res.statusCode !== 200) throw new Error(`introspect: ${res.statusCode} ${res.body}`);
  return res.json() as Record<string, unknown>;
}

async function getJwks(app: FastifyInstance): Promise<JSONWebKeySet> {
  const res = await app.inject({ method: 'GET', url: '/oauth2/jwks' });
  if (res.statusCode !== 200) throw new Error(`jwks: ${res.statusCode} ${res.body}`);
  return res.json() as JSONWebKeySet;
}

function assertOAuthError(t: Test, res: LightMyRequestResponse, status: number, error: string): void {
  t.equal(res.statusCode, status, res.statusCode === status ? `status ${status}` : res.body);
  t.equal(res.headers['cache-control'], 'no-store');
  t.equal(res.headers.pragma, 'no-cache');
  const body = res.json() as { error: string; error_description: string };
  t.same(Object.keys(body).sort(), ['error', 'error_description']);
  t.same({ error: body.error }, { error });
  t.type(body.error_description, 'string');
  if (status === 401) t.equal(res.headers['www-authenticate'], CLIENT_CHALLENGE);
}

t.test('JWT access tokens, JWKS and key rotation', async (t) => {
  const { app, db, appDb, secrets, services } = await buildTestApp(t);
  await createUser(app, 'alice', ALICE_PW);
  const jwtApp = await registerApp(app, ADMIN_AUTH, { clientName: 'jwt-app', owner: ADMIN, grantType: ALL_GRANTS, tokenType: 'JWT' });
  const opaqueApp = await registerApp(app, ADMIN_AUTH, { clientName: 'opaque-app', owner: ADMIN, grantType: ALL_GRANTS });

  t.test('JWKS document', async (t) => {
    const res = await app.inject({ method: 'GET', url: '/oauth2/jwks' });
    t.equal(res.statusCode, 200);
    t.match(res.headers['content-type'], /^application\/json(;|$)/);
    t.equal(res.headers['cache-control'], 'public, max-age=60');
    const jwks = res.json() as JSONWebKeySet;
    t.same(Object.keys(jwks), ['keys']);
    t.equal(jwks.keys.length, 1);
    const key = jwks.keys[0]!;
    t.same(Object.keys(key).sort(), ['alg', 'e', 'kid', 'kty', 'n', 'use'], 'public members only (no d, p, q, dp, dq, qi)');
    t.equal(key.kty, 'RSA');
    t.equal(key.alg, 'RS256');
    t.equal(Buffer.from(key.n!, 'base64url').length, 256, 'a 2048-bit modulus');
    t.equal(key.e, 'AQAB');
    t.equal(key.use, 'sig');
    t.match(key.kid, /^[A-Za-z0-9_-]{43}$/, 'an RFC 7638 thumbprint');
  });

  t.test('a JWT app token verifies with the published keys', async (t) => {
    const jwks = await getJwks(app);
    const set = createLocalJWKSet(jwks);
    for (const [grant, params] of [
      ['password', { grant_type: 'password', username: 'alice', password: ALICE_PW, scope: `${APP_MANAGE} openid` }],
      ['client_credentials', { grant_type: 'client_credentials', scope: 'openid' }],
    ] as const) {
      const res = await formPost(app, '/oauth2/token', jwtApp, { ...params });
      t.equal(res.statusCode, 200, res.body);
      const body = res.json() as TokenBody;
      const { payload, protectedHeader } = await jwtVerify(body.access_token, set, { issuer: ISSUER, audience: jwtApp.clientId });
      t.same(protectedHeader, { alg: 'RS256', kid: jwks.keys[0]!.kid, typ: 'at+jwt' }, `${grant}: header`);
      t.same(
        Object.keys(payload),
        ['sub', 'aut', 'aud', 'nbf', 'azp', 'scope', 'iss', 'exp', 'iat', 'jti', 'client_id'],
        `${grant}: exactly these claims, in WSO2 IS 7's order`,
      );
      t.equal(payload.aut, grant === 'password' ? 'APPLICATION_USER' : 'APPLICATION', `${grant}: aut`);
      t.equal(payload.azp, jwtApp.clientId, `${grant}: azp is the consumer key`);
      t.equal(payload.nbf, payload.iat, `${grant}: nbf is iat`);
      t.equal(payload.iss, ISSUER);
      t.equal(payload.sub, grant === 'password' ? 'alice' : ADMIN, `${grant}: sub is the user`);
      t.equal(payload.aud, jwtApp.clientId);
      t.equal(payload.client_id, jwtApp.clientId);
      t.equal(payload.scope, body.scope);
      t.equal(payload.exp! - payload.iat!, 3600);
      t.equal(body.expires_in, 3600);
      t.ok(Math.abs(payload.iat! - Date.now() / 1000) < 60, 'iat is now');
      t.match(payload.jti, UUID);
    }
    // The audience is the client: another client's id does not verify.
    const token = await passwordToken(app, jwtApp);
    await t.rejects(jwtVerify(token.access_token, set, { issuer: ISSUER, audience: opaqueApp.clientId }));
    await t.rejects(jwtVerify(token.access_token, set, { issuer: 'https://other.example', audience: jwtApp.clientId }));
  });

  t.test('each JWT has its own jti', async (t) => {
    const jtis = new Set<unknown>();
    for (let i = 0; i < 5; i++) jtis.add(decodeJwt((await passwordToken(app, jwtApp)).access_token).jti);
    t.equal(jtis.size, 5);
  });

  t.test('opaque app tokens are not JWTs', async (t) => {
    const token = await passwordToken(app, opaqueApp);
    t.match(token.access_token, /^[A-Za-z0-9_-]{43}$/);
    t.throws(() => decodeJwt(token.access_token));
    t.throws(() => decodeProtectedHeader(token.access_token));
    t.equal(token.access_token.split('.').length, 1);
    // Refresh tokens of JWT apps are opaque too.
    const jwtToken = await passwordToken(app, jwtApp);
    t.match(jwtToken.refresh_token, /^[A-Za-z0-9_-]{43}$/);
  });

  t.test('key rotation', async (t) => {
    const before = await getJwks(app);
    const oldKid = before.keys[0]!.kid!;
    const oldToken = await passwordToken(app, jwtApp);
    const oldCc = (await formPost(app, '/oauth2/token', jwtApp, { grant_type: 'client_credentials', scope: APP_MANAGE })).json() as TokenBody;
    t.equal(decodeProtectedHeader(oldToken.access_token).kid, oldKid);

    const newKid = await services.keys.rotate(SUPER_TENANT.id);
    t.not(newKid, oldKid);

    const after = await getJwks(app);
    t.same(after.keys.map((key) => key.kid).sort(), [oldKid, newKid].sort(), 'both keys are published');
    t.equal(after.keys[0]!.kid, newKid, 'the current key first');
    const set = createLocalJWKSet(after);

    // A token signed before the rotation still verifies and still works.
    const verified = await jwtVerify(oldToken.access_token, set, { issuer: ISSUER, audience: jwtApp.clientId });
    t.equal(verified.protectedHeader.kid, oldKid);
    const res = await app.inject({
      method: 'POST',
      url: REGISTER,
      headers: { authorization: `Bearer ${oldToken.access_token}` },
      payload: { clientName: 'after-rotation', owner: 'alice', grantType: 'password' },
    });
    t.equal(res.statusCode, 200, res.body);
    t.equal((await introspect(app, jwtApp, oldToken.access_token)).active, true);
    t.equal((await introspect(app, jwtApp, oldCc.access_token)).active, true);

    // A new token is signed with the new key.
    const newToken = await passwordToken(app, jwtApp);
    t.equal(decodeProtectedHeader(newToken.access_token).kid, newKid);
    const newVerified = await jwtVerify(newToken.access_token, set, { issuer: ISSUER, audience: jwtApp.clientId });
    t.equal(newVerified.payload.sub, 'alice');
    // ...and the old key set alone does not verify it.
    await t.rejects(jwtVerify(newToken.access_token, createLocalJWKSet(before), { issuer: ISSUER, audience: jwtApp.clientId }));
    const viaNew = await app.inject({
      method: 'POST',
      url: REGISTER,
      headers: { authorization: `Bearer ${newToken.access_token}` },
      payload: { clientName: 'after-rotation-2', owner: 'alice', grantType: 'password' },
    });
    t.equal(viaNew.statusCode, 200, viaNew.body);

    // A refresh after the rotation gets a token under the new key.
    const refreshed = await formPost(app, '/oauth2/token', jwtApp, { grant_type: 'refresh_token', refresh_token: oldToken.refresh_token! });
    t.equal(refreshed.statusCode, 200, refreshed.body);
    t.equal(decodeProtectedHeader((refreshed.json() as TokenBody).access_token).kid, newKid);

    // A second rotation: three keys, the first one still within its grace period.
    const thirdKid = await services.keys.rotate(SUPER_TENANT.id);
    const third = await getJwks(app);
    t.same(third.keys.map((key) => key.kid).sort(), [oldKid, newKid, thirdKid].sort());
    // A token of the first key still works within its grace period (oldToken itself was replaced
    // by the refresh above, which revokes the access token it replaces).
    t.equal((await introspect(app, jwtApp, oldCc.access_token)).active, true);
    t.equal((await introspect(app, jwtApp, oldToken.access_token)).active, false);
  });

  t.test('a key rotated by another instance verifies here at once', async (t) => {
    // A second instance over the same database (and secret key), as behind a load balancer.
    const otherServices = createServices(TEST_SERVICE_CONFIG, { db: appDb, maintenance: db, secrets, hasher: FAST_HASHER });
    const other = await buildApp(otherServices, { bodyLimit: 65536, logger: false, publicUrl: PUBLIC_URL });
    t.teardown(() => other.close());
    const before = await passwordToken(other, jwtApp);
    t.equal((await introspect(app, jwtApp, before.access_token)).active, true, 'tokens of one instance work on the other');

    const rotatedKid = await otherServices.keys.rotate(SUPER_TENANT.id);
    const signedThere = await passwordToken(other, jwtApp);
    t.equal(decodeProtectedHeader(signedThere.access_token).kid, rotatedKid);
    // This instance has the key set cached; the unknown kid makes it reload.
    t.equal((await introspect(app, jwtApp, signedThere.access_token)).active, true, 'introspection here');
    const res = await app.inject({
      method: 'POST',
      url: REGISTER,
      headers: { authorization: `Bearer ${signedThere.access_token}` },
      payload: { clientName: 'rotated-elsewhere', owner: 'alice', grantType: 'password' },
    });
    t.equal(res.statusCode, 200, res.body);
    // And this instance signs with the new key from then on.
    t.equal(decodeProtectedHeader((await passwordToken(app, jwtApp)).access_token).kid, rotatedKid);
  });
});

t.test('introspection, revocation, metadata', async (t) => {
  const { app } = await buildTestApp(t);
  await createUser(app, 'alice', ALICE_PW);
  const jwtApp = await registerApp(app, ADMIN_AUTH, { clientName: 'jwt-app', owner: ADMIN, grantType: ALL_GRANTS, tokenType: 'JWT' });
  const opaqueApp = await registerApp(app, ADMIN_AUTH, { clientName: 'opaque-app', owner: ADMIN, grantType: ALL_GRANTS });
  const resourceServer = await registerApp(app, basic('alice', ALICE_PW), { clientName: 'rs', owner: 'alice', grantType: 'client_credentials' });

  t.test('introspection (RFC 7662)', async (t) => {

    t.test('an active access token', async (t) => {
      for (const [label, client] of [
        ['JWT', jwtApp],
        ['opaque', opaqueApp],
      ] as const) {
        const token = await passwordToken(app, client, `openid ${APP_MANAGE}`);
        const before = Math.floor(Date.now() / 1000);
        for (const style of ['basic', 'post'] as const) {
          const res = await formPost(app, '/oauth2/introspect', client, { token: token.access_token }, style);
          t.equal(res.statusCode, 200, res.body);
          t.equal(res.headers['cache-control'], 'no-store');
          t.equal(res.headers.pragma, 'no-cache');
          const body = res.json() as Record<string, number | string | boolean>;
          const jwt = label === 'JWT';
          t.same(
            { ...body, exp: 0, iat: 0, nbf: 0, ...(jwt ? { jti: '' } : {}) },
            {
              active: true,
              scope: `${APP_MANAGE} openid`,
              client_id: client.clientId,
              username: 'alice',
              token_type: 'Bearer',
              exp: 0,
              iat: 0,
              nbf: 0,
              aut: 'APPLICATION_USER',
              aud: client.clientId,
              // The JWT's own claims, for JWTs only (as WSO2 IS answers).
              ...(jwt ? { jti: '', sub: 'alice', iss: ISSUER } : {}),
            },
            `${label}, ${style}`,
          );
          t.equal(body.nbf, body.iat, 'nbf is iat');
          t.type(body.exp, 'number');
          t.type(body.iat, 'number');
          t.ok(Math.abs((body.iat as number) - before) <= 5, 'iat is now');
          t.equal((body.exp as number) - (body.iat as number), 3600, 'exp - iat is the lifetime');
          if (label === 'JWT') {
            const claims = decodeJwt(token.access_token);
            t.equal(body.exp, claims.exp, 'the same exp as the JWT');
            t.equal(body.iat, claims.iat, 'the same iat as the JWT');
            t.equal(body.jti, claims.jti, 'the JWT’s jti');
          }
        }
        // RFC 7662 §4: another client learns nothing of the token, exactly as of an unknown one...
        t.same(await introspect(app, resourceServer, token.access_token), { active: false }, "another client: {active:false}");
        // ...the super admin by Basic (how API Manager's Key Manager connector calls) sees it.
        const asAdmin = await app.inject({
          method: 'POST',
          url: '/oauth2/introspect',
          headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: ADMIN_AUTH },
          payload: new URLSearchParams({ token: token.access_token }).toString(),
        });
        t.equal(asAdmin.json().active, true, 'the super admin: active');
        t.equal(asAdmin.json().client_id, client.clientId, 'client_id is the token’s client, not the caller');
        // A wrong hint only reorders the lookups.
        t.equal((await introspect(app, client, token.access_token, { token_type_hint: 'refresh_token' })).token_type, 'Bearer');
      }
    });

    t.test('many tokens: exp - iat is always the lifetime', async (t) => {
      // issued_at and the expiry must come from one clock reading, whatever the timing.
      const results = await Promise.all(
        Array.from({ length: 12 }, async (_, i) => {
          const client = i % 2 ? jwtApp : opaqueApp;
          const token = await passwordToken(app, client);
          const access = await introspect(app, client, token.access_token);
          const refresh = await introspect(app, client, token.refresh_token!);
          return [(access.exp as number) - (access.iat as number), (refresh.exp as number) - (refresh.iat as number)];
        }),
      );
      t.same(results, Array.from({ length: 12 }, () => [3600, 86400]));
    });

    t.test('a refresh token', async (t) => {
      const token = await passwordToken(app, opaqueApp, 'openid');
      for (const hint of [undefined, 'refresh_token', 'access_token']) {
        const body = await introspect(app, opaqueApp, token.refresh_token!, hint ? { token_type_hint: hint } : {});
        t.same(
          { ...body, exp: 0, iat: 0, nbf: 0 },
          {
            active: true,
            scope: 'openid',
            client_id: opaqueApp.clientId,
            username: 'alice',
            // WSO2 IS's word; API Manager refuses a token of this type as an access token.
            token_type: 'Refresh',
            exp: 0,
            iat: 0,
            nbf: 0,
            aut: 'APPLICATION_USER',
            aud: opaqueApp.clientId,
          },
          `hint ${String(hint)}`,
        );
        t.equal((body.exp as number) - (body.iat as number), 86400);
      }
    });

    t.test('revoked, used and unknown tokens are {active: false}', async (t) => {
      const token = await passwordToken(app, jwtApp);
      t.equal((await formPost(app, '/oauth2/revoke', jwtApp, { token: token.access_token })).statusCode, 200);
      t.same(await introspect(app, jwtApp, token.access_token), { active: false });
      t.equal((await introspect(app, jwtApp, token.refresh_token!)).active, true, 'revoking an access token leaves the refresh token');

      const used = await passwordToken(app, opaqueApp);
      t.equal((await formPost(app, '/oauth2/token', opaqueApp, { grant_type: 'refresh_token', refresh_token: used.refresh_token! })).statusCode, 200);
      t.same(await introspect(app, opaqueApp, used.refresh_token!), { active: false }, 'a used refresh token');
      t.same(await introspect(app, opaqueApp, used.access_token), { active: false }, 'rotation revokes the access token it replaces');

      for (const unknown of ['unknown', 'x'.repeat(43), 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJhIn0.', 'a.b.c', opaqueApp.clientSecret]) {
        const res = await formPost(app, '/oauth2/introspect', opaqueApp, { token: unknown });
        t.equal(res.statusCode, 200);
        t.same(res.json(), { active: false }, unknown);
      }
    });

    t.test('client authentication and request errors', async (t) => {
      const token = await passwordToken(app, opaqueApp);
      assertOAuthError(t, await formPost(app, '/oauth2/introspect', undefined, { token: token.access_token }), 401, 'invalid_client');
      assertOAuthError(
        t,
        await formPost(app, '/oauth2/introspect', { clientId: opaqueApp.clientId, clientSecret: 'wrong' }, { token: token.access_token }),
        401,
        'invalid_client',
      );
      assertOAuthError(
        t,
        await formPost(app, '/oauth2/introspect', { clientId: opaqueApp.clientId, clientSecret: 'wrong' }, { token: token.access_token }, 'post'),
        401,
        'invalid_client',
      );
      // A user's Basic credentials introspect only for a user entitled to see every token (the
      // super admin, or a user DCR_APP_MANAGE_USERS lists): alice is neither.
      const asUser = await app.inject({
        method: 'POST',
        url: '/oauth2/introspect',
        headers: { 'content-type': FORM, authorization: basic('alice', ALICE_PW) },
        payload: new URLSearchParams({ token: token.access_token }).toString(),
      });
      assertOAuthError(t, asUser, 401, 'invalid_client');
      const wrongAdmin = await app.inject({
        method: 'POST',
        url: '/oauth2/introspect',
        headers: { 'content-type': FORM, authorization: basic(ADMIN, 'wrong-password') },
        payload: new URLSearchParams({ token: token.access_token }).toString(),
      });
      assertOAuthError(t, wrongAdmin, 401, 'invalid_client');
      // A Bearer token is not client authentication either.
      const asBearer = await app.inject({
        method: 'POST',
        url: '/oauth2/introspect',
        headers: { 'content-type': FORM, authorization: `Bearer ${token.access_token}` },
        payload: new URLSearchParams({ token: token.access_token }).toString(),
      });
      assertOAuthError(t, asBearer, 401, 'invalid_client');
      assertOAuthError(t, await formPost(app, '/oauth2/introspect', opaqueApp, {}), 400, 'invalid_request');
      assertOAuthError(t, await formPost(app, '/oauth2/introspect', opaqueApp, { token: '' }), 400, 'invalid_request');
      const json = await app.inject({
        method: 'POST',
        url: '/oauth2/introspect',
        headers: { 'content-type': 'application/json', authorization: basic(opaqueApp.clientId, opaqueApp.clientSecret) },
        payload: { token: token.access_token },
      });
      t.equal(json.statusCode, 415);
      t.same(Object.keys(json.json() as object).sort(), ['error', 'error_description']);
    });
  });

  t.test('revocation (RFC 7009)', async (t) => {
    const refresh = (client: Client, token: string) => formPost(app, '/oauth2/token', client, { grant_type: 'refresh_token', refresh_token: token });

    t.test('unknown tokens answer 200', async (t) => {
      for (const token of ['unknown', 'x'.repeat(43), 'a.b.c']) {
        for (const hint of [undefined, 'access_token', 'refresh_token', 'something_else']) {
          const res = await formPost(app, '/oauth2/revoke', opaqueApp, hint ? { token, token_type_hint: hint } : { token });
          t.equal(res.statusCode, 200, res.body);
          t.equal(res.headers['cache-control'], 'no-store');
          t.equal(res.body, '');
        }
      }
    });

    t.test('errors', async (t) => {
      assertOAuthError(t, await formPost(app, '/oauth2/revoke', undefined, { token: 'x' }), 401, 'invalid_client');
      assertOAuthError(t, await formPost(app, '/oauth2/revoke', { clientId: jwtApp.clientId, clientSecret: 'nope' }, { token: 'x' }), 401, 'invalid_client');
      assertOAuthError(t, await formPost(app, '/oauth2/revoke', jwtApp, {}), 400, 'invalid_request');
    });

    for (const [label, client] of [
      ['JWT', jwtApp],
      ['opaque', opaqueApp],
    ] as const) {
      t.test(`${label}: revoking an access token (both auth styles, with and without a hint)`, async (t) => {
        for (const [style, hint] of [
          ['basic', undefined],
          ['post', 'access_token'],
          ['basic', 'refresh_token'],
        ] as const) {
          const token = await passwordToken(app, client);
          const res = await formPost(app, '/oauth2/revoke', client, hint ? { token: token.access_token, token_type_hint: hint } : { token: token.access_token }, style);
          t.equal(res.statusCode, 200, res.body);
          t.same(await introspect(app, client, token.access_token), { active: false }, `${style}, hint ${String(hint)}`);
          // Again: still 200.
          t.equal((await formPost(app, '/oauth2/revoke', client, { token: token.access_token })).statusCode, 200);
        }
      });

      t.test(`${label}: revoking a refresh token revokes its family's access tokens`, async (t) => {
        const first = await passwordToken(app, client);
        const rotated = refresh(client, first.refresh_token!);
        const second = (await rotated).json() as TokenBody;
        const unrelated = await passwordToken(app, client);
        t.equal((await introspect(app, client, first.access_token)).active, false, 'the refresh revoked the access token it replaced');
        t.equal((await introspect(app, client, second.access_token)).active, true);

        const res = await formPost(app, '/oauth2/revoke', client, { token: second.refresh_token!, token_type_hint: 'refresh_token' });
        t.equal(res.statusCode, 200);
        for (const token of [first.access_token, second.access_token, second.refresh_token!]) {
          t.same(await introspect(app, client, token), { active: false });
        }
        assertOAuthError(t, await refresh(client, second.refresh_token!), 400, 'invalid_grant');
        t.equal((await introspect(app, client, unrelated.access_token)).active, true, 'another grant is untouched');
        t.equal((await introspect(app, client, unrelated.refresh_token!)).active, true);

        // Without a hint too.
        const third = await passwordToken(app, client);
        t.equal((await formPost(app, '/oauth2/revoke', client, { token: third.refresh_token! })).statusCode, 200);
        t.same(await introspect(app, client, third.access_token), { active: false });
      });
    }

    t.test("a client cannot revoke another client's token", async (t) => {
      const token = await passwordToken(app, jwtApp);
      const opaqueToken = await passwordToken(app, opaqueApp);
      for (const [owner, stranger, tokens] of [
        [jwtApp, opaqueApp, token],
        [opaqueApp, jwtApp, opaqueToken],
      ] as const) {
        for (const value of [tokens.access_token, tokens.refresh_token!]) {
          for (const hint of [undefined, 'access_token', 'refresh_token']) {
            const res = await formPost(app, '/oauth2/revoke', stranger, hint ? { token: value, token_type_hint: hint } : { token: value });
            t.equal(res.statusCode, 200, 'the same 200 as for an unknown token');
          }
        }
        t.equal((await introspect(app, owner, tokens.access_token)).active, true, 'the access token stays active');
        t.equal((await introspect(app, owner, tokens.refresh_token!)).active, true, 'the refresh token stays active');
      }
      // The refresh token still refreshes for its own client.
      t.equal((await refresh(jwtApp, token.refresh_token!)).statusCode, 200);
    });
  });

  t.test('authorization server metadata (RFC 8414)', async (t) => {
    const res = await app.inject({ method: 'GET', url: '/.well-known/oauth-authorization-server' });
    t.equal(res.statusCode, 200);
    t.match(res.headers['content-type'], /^application\/json(;|$)/);
    t.same(res.json(), {
      issuer: `${PUBLIC_URL}/oauth2/token`,
      token_endpoint: `${PUBLIC_URL}/oauth2/token`,
      jwks_uri: `${PUBLIC_URL}/oauth2/jwks`,
      introspection_endpoint: `${PUBLIC_URL}/oauth2/introspect`,
      revocation_endpoint: `${PUBLIC_URL}/oauth2/revoke`,
      registration_endpoint: `${PUBLIC_URL}/api/identity/oauth2/dcr/v1.1/register`,
      scopes_supported: ['apim:dcr:app_manage', 'internal_dcr_create', 'internal_dcr_view', 'internal_dcr_update', 'internal_dcr_delete', 'openid'],
      response_types_supported: [],
      grant_types_supported: ['password', 'client_credentials', 'refresh_token'],
      token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
      introspection_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
      revocation_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
    });
    // RFC 8414 §2: registration_endpoint names an RFC 7591 endpoint: IS's DCR v1.1, not WSO2's
    // v0.17, which answers an RFC 7591 body with 400.
    const rfc7591 = await app.inject({
      method: 'POST',
      url: '/client-registration/v0.17/register',
      headers: { authorization: ADMIN_AUTH },
      payload: { client_name: 'rfc7591_client', grant_types: ['client_credentials'], redirect_uris: ['https://a/cb'] },
    });
    t.equal(rfc7591.statusCode, 400, 'the v0.17 route does not speak RFC 7591');
    // No authentication needed, and a wrong one does not hurt.
    const withAuth = await app.inject({ method: 'GET', url: '/.well-known/oauth-authorization-server', headers: { authorization: 'Bearer junk' } });
    t.equal(withAuth.statusCode, 200);
    const jwks = await app.inject({ method: 'GET', url: '/oauth2/jwks', headers: { authorization: 'Basic junk' } });
    t.equal(jwks.statusCode, 200);
    // One document at every path a client looks for it: OpenID Connect Discovery's, under the
    // issuer's path (WSO2 IS's well-known URL, APIM's "Import"), and RFC 8414 §3.1's for that issuer.
    for (const url of [
      '/.well-known/openid-configuration',
      '/oauth2/token/.well-known/openid-configuration',
      '/.well-known/oauth-authorization-server/oauth2/token',
    ]) {
      const other = await app.inject({ method: 'GET', url });
      t.equal(other.statusCode, 200, url);
      t.equal(other.body, res.body, `${url}: the same document`);
    }
  });
});
