/**
 * Bearer tokens on POST /client-registration/v0.17/register: a token from
 * /oauth2/token with apim:dcr:app_manage authenticates exactly like Basic, with the same owner
 * rules; every bad token (no scope, garbage, forged, alg none, expired, revoked, deleted user) is
 * the same 401 as a bad password.
 */
import { createHash } from 'node:crypto';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { SignJWT, decodeJwt, decodeProtectedHeader, generateKeyPair, type JWTPayload } from 'jose';
import t, { type Test } from 'tap';
import { SUPER_TENANT } from '../../src/domain/tenants.js';
import { ADMIN, ADMIN_AUTH, ADMIN_PASSWORD, ISSUER, basic, buildTestApp, createUser } from '../fixtures/app.js';

const REGISTER = '/client-registration/v0.17/register';
const FORM = 'application/x-www-form-urlencoded';
const APP_MANAGE = 'apim:dcr:app_manage';
const ALICE_PW = 'alice-Pa55word';
const BOB_PW = 'bob-Pa55word';
const ALL_GRANTS = 'client_credentials password refresh_token';

const UNAUTHORIZED = { code: 401, message: 'Unauthorized', description: 'The user is not authorized', moreInfo: '', error: [] };
const FORBIDDEN_APP = { code: 403, message: 'Forbidden', description: 'Access is forbidden to the application', moreInfo: '', error: [] };

function notSameUser(caller: string, owner: string) {
  const description = `Logged in user '${caller}' and application owner '${owner}' should be same.`;
  return { code: 400, message: 'Bad Request', description, moreInfo: '', error: [{ code: 'owner', message: description }] };
}

function noSuchUser(owner: string) {
  const text = `User: ${owner} does not exist for application registration`;
  return { code: 403, message: text, description: text, moreInfo: '', error: [] };
}

interface DcrResult {
  clientId: string;
  clientSecret: string;
  clientName: string;
  appOwner: string;
  applicationUUID: string;
  tokenType: string;
  [key: string]: unknown;
}

interface TokenBody {
  access_token: string;
  refresh_token?: string;
  scope: string;
}

function register(app: FastifyInstance, authorization: string | undefined, payload: Record<string, unknown>) {
  return app.inject({
    method: 'POST',
    url: REGISTER,
    headers: authorization === undefined ? {} : { authorization },
    payload,
  });
}

async function registerOk(app: FastifyInstance, authorization: string, payload: Record<string, unknown>): Promise<DcrResult> {
  const res = await register(app, authorization, payload);
  if (res.statusCode !== 200) throw new Error(`registering ${String(payload.clientName)}: ${res.statusCode} ${res.body}`);
  return res.json() as DcrResult;
}

function formPost(app: FastifyInstance, url: string, client: DcrResult, params: Record<string, string>) {
  return app.inject({
    method: 'POST',
    url,
    headers: { 'content-type': FORM, authorization: basic(client.clientId, client.clientSecret) },
    payload: new URLSearchParams(params).toString(),
  });
}

async function passwordToken(app: FastifyInstance, client: DcrResult, username: string, password: string, scope = APP_MANAGE): Promise<TokenBody> {
  const res = await formPost(app, '/oauth2/token', client, { grant_type: 'password', username, password, scope });
  if (res.statusCode !== 200) throw new Error(`token for ${username}: ${res.statusCode} ${res.body}`);
  return res.json() as TokenBody;
}

const bearer = (token: string) => `Bearer ${token}`;

const b64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** The same 401 as a wrong password: status, Error body, JSON, the challenge. */
function assertUnauthorized(t: Test, res: LightMyRequestResponse, reference: LightMyRequestResponse, label: string): void {
  t.equal(res.statusCode, 401, `${label}: 401`);
  t.match(res.headers['content-type'], /^application\/json(;|$)/);
  t.same(res.json(), UNAUTHORIZED, `${label}: the Error body`);
  t.ok(res.headers['www-authenticate'], `${label}: a challenge`);
  t.same(res.headers['www-authenticate'], reference.headers['www-authenticate'], `${label}: the same challenge as a bad password`);
}

t.test('Bearer on /register', async (t) => {
  const { app, db, services } = await buildTestApp(t);
  await createUser(app, 'alice', ALICE_PW);
  await createUser(app, 'bob', BOB_PW);
  const ALICE_AUTH = basic('alice', ALICE_PW);
  const jwtApp = await registerOk(app, ALICE_AUTH, { clientName: 'alice-jwt', owner: 'alice', grantType: ALL_GRANTS, tokenType: 'JWT' });
  const opaqueApp = await registerOk(app, ALICE_AUTH, { clientName: 'alice-opaque', owner: 'alice', grantType: ALL_GRANTS });
  const clients: [string, DcrResult][] = [
    ['JWT', jwtApp],
    ['opaque', opaqueApp],
  ];
  const badPassword = await register(app, basic('alice', 'wrong-password'), { clientName: 'never', owner: 'alice', grantType: 'password' });
  t.equal(badPassword.statusCode, 401);
  t.same(badPassword.json(), UNAUTHORIZED);
  let n = 0;
  const fresh = (prefix: string) => `${prefix}-${++n}`;

  for (const [label, client] of clients) {
    t.test(`${label} token: registers for its user exactly as Basic does`, async (t) => {
      const token = await passwordToken(app, client, 'alice', ALICE_PW);
      t.equal(token.scope, APP_MANAGE);
      const name = fresh(`via-bearer-${label}`);
      const viaBearer = await register(app, bearer(token.access_token), { clientName: name, owner: 'alice', grantType: 'password client_credentials' });
      t.equal(viaBearer.statusCode, 200, viaBearer.body);
      t.equal(viaBearer.headers['cache-control'], 'no-store');
      const created = viaBearer.json() as DcrResult;
      t.equal(created.appOwner, 'alice');
      t.equal(created.clientName, name);
      t.equal(created.tokenType, 'DEFAULT');

      // Basic, same name: the stored app, identical.
      const viaBasic = await register(app, ALICE_AUTH, { clientName: name, owner: 'alice', grantType: 'password' });
      t.equal(viaBasic.statusCode, 200);
      t.same(viaBasic.json(), created, 'Basic sees the app the Bearer call created');
      // Bearer again, same name: the same app too.
      const again = await register(app, bearer(token.access_token), { clientName: name, owner: 'alice', grantType: 'implicit' });
      t.equal(again.statusCode, 200);
      t.same(again.json(), created);

      // An app created over Basic has the same shape as one created over Bearer.
      const basicName = fresh(`via-basic-${label}`);
      const basicCreated = await registerOk(app, ALICE_AUTH, { clientName: basicName, owner: 'alice', grantType: 'password client_credentials' });
      const strip = (body: DcrResult) => {
        const { clientId, clientSecret, clientName, applicationUUID, jsonString, ...rest } = body;
        return { rest, jsonString: JSON.parse(jsonString as string) as Record<string, unknown>, keys: Object.keys(body).sort() };
      };
      const a = strip(created);
      const b = strip(basicCreated);
      t.same(a.rest, b.rest);
      t.same(a.keys, b.keys);
      t.same({ ...a.jsonString, client_name: 'x' }, { ...b.jsonString, client_name: 'x' });
    });

    t.test(`${label} token: the owner rules of a non-admin caller`, async (t) => {
      const token = await passwordToken(app, client, 'alice', ALICE_PW);
      const other = await register(app, bearer(token.access_token), { clientName: fresh('for-bob'), owner: 'bob', grantType: 'password' });
      t.equal(other.statusCode, 400);
      t.same(other.json(), notSameUser('alice', 'bob'));
      const missingOwner = await register(app, bearer(token.access_token), { clientName: fresh('no-owner'), grantType: 'password' });
      t.equal(missingOwner.statusCode, 400);
      t.equal((missingOwner.json() as { description: string }).description, 'Application owner cannot be empty');
      // bob's app, by name: forbidden to alice's token.
      const bobsName = fresh('bobs');
      await registerOk(app, basic('bob', BOB_PW), { clientName: bobsName, owner: 'bob', grantType: 'password' });
      const taken = await register(app, bearer(token.access_token), { clientName: bobsName, owner: 'alice', grantType: 'password' });
      t.equal(taken.statusCode, 403);
      t.same(taken.json(), FORBIDDEN_APP);
    });

    t.test(`${label} token: the super admin's token registers for others`, async (t) => {
      const token = await passwordToken(app, client, ADMIN, ADMIN_PASSWORD);
      const forBob = await register(app, bearer(token.access_token), { clientName: fresh('admin-for-bob'), owner: 'bob', grantType: 'password' });
      t.equal(forBob.statusCode, 200, forBob.body);
      t.equal((forBob.json() as DcrResult).appOwner, 'bob');
      const nobody = await register(app, bearer(token.access_token), { clientName: fresh('admin-for-nobody'), owner: 'nobody', grantType: 'password' });
      t.equal(nobody.statusCode, 403);
      t.same(nobody.json(), noSuchUser('nobody'));
    });

    t.test(`${label} token: client_credentials acts for the app's owner`, async (t) => {
      const res = await formPost(app, '/oauth2/token', client, { grant_type: 'client_credentials', scope: APP_MANAGE });
      t.equal(res.statusCode, 200, res.body);
      const token = res.json() as TokenBody;
      const own = await register(app, bearer(token.access_token), { clientName: fresh('cc-own'), owner: 'alice', grantType: 'password' });
      t.equal(own.statusCode, 200, own.body);
      const other = await register(app, bearer(token.access_token), { clientName: fresh('cc-other'), owner: 'bob', grantType: 'password' });
      t.same(other.json(), notSameUser('alice', 'bob'));
    });

    t.test(`${label} token: without apim:dcr:app_manage → the same 401 as a bad password`, async (t) => {
      for (const scope of ['openid', '', 'foo']) {
        const token = await passwordToken(app, client, 'alice', ALICE_PW, scope);
        t.not(token.scope.split(' ').includes(APP_MANAGE), true);
        const res = await register(app, bearer(token.access_token), { clientName: fresh('no-scope'), owner: 'alice', grantType: 'password' });
        assertUnauthorized(t, res, badPassword, `scope '${scope}'`);
      }
    });

    t.test(`${label} token: a refresh token is not an access token`, async (t) => {
      const token = await passwordToken(app, client, 'alice', ALICE_PW);
      const res = await register(app, bearer(token.refresh_token!), { clientName: fresh('refresh-as-bearer'), owner: 'alice', grantType: 'password' });
      assertUnauthorized(t, res, badPassword, 'refresh token');
    });

    t.test(`${label} token: revoked → 401 at once`, async (t) => {
      const token = await passwordToken(app, client, 'alice', ALICE_PW);
      const ok = await register(app, bearer(token.access_token), { clientName: fresh('pre-revoke'), owner: 'alice', grantType: 'password' });
      t.equal(ok.statusCode, 200);
      // Another client cannot revoke it.
      const stranger = client === jwtApp ? opaqueApp : jwtApp;
      const notMine = await formPost(app, '/oauth2/revoke', stranger, { token: token.access_token });
      t.equal(notMine.statusCode, 200);
      const still = await register(app, bearer(token.access_token), { clientName: fresh('not-revoked'), owner: 'alice', grantType: 'password' });
      t.equal(still.statusCode, 200, 'still works after a stranger tried to revoke it');

      const revoked = await formPost(app, '/oauth2/revoke', client, { token: token.access_token });
      t.equal(revoked.statusCode, 200, revoked.body);
      t.equal(revoked.headers['cache-control'], 'no-store');
      const res = await register(app, bearer(token.access_token), { clientName: fresh('post-revoke'), owner: 'alice', grantType: 'password' });
      assertUnauthorized(t, res, badPassword, 'revoked');
    });

    t.test(`${label} token: expired (database expiry) → 401`, async (t) => {
      const token = await passwordToken(app, client, 'alice', ALICE_PW);
      const ok = await register(app, bearer(token.access_token), { clientName: fresh('pre-expiry'), owner: 'alice', grantType: 'password' });
      t.equal(ok.statusCode, 200);
      const { rowCount } =
        client === jwtApp
          ? await db.query("UPDATE access_tokens SET expires_at = now() - interval '1 second' WHERE id = $1", [decodeJwt(token.access_token).jti])
          : await db.query("UPDATE access_tokens SET expires_at = now() - interval '1 second' WHERE id = $1", [
              // An opaque token's row id: the first 128 bits of its SHA-256.
              createHash('sha256').update(token.access_token).digest('hex').slice(0, 32),
            ]);
      t.equal(rowCount, 1);
      const res = await register(app, bearer(token.access_token), { clientName: fresh('post-expiry'), owner: 'alice', grantType: 'password' });
      assertUnauthorized(t, res, badPassword, 'expired');
    });
  }

  t.test('garbage tokens → 401', async (t) => {
    const garbage = [
      'not-a-token',
      'x'.repeat(43),
      'abc.def.ghi',
      'eyJhbGciOiJFUzI1NiJ9.eyJ9.sig',
      `${jwtApp.clientSecret}`,
      'Zm9vOmJhcg==',
    ];
    for (const token of garbage) {
      const res = await register(app, bearer(token), { clientName: fresh('garbage'), owner: 'alice', grantType: 'password' });
      assertUnauthorized(t, res, badPassword, token);
    }
    for (const authorization of ['Bearer', 'Bearer ', 'Bearer a b', 'Token abc', 'Bearer\tabc']) {
      const res = await register(app, authorization, { clientName: fresh('malformed'), owner: 'alice', grantType: 'password' });
      assertUnauthorized(t, res, badPassword, JSON.stringify(authorization));
    }
  });

  t.test('forged JWTs → 401', async (t) => {
    const real = await passwordToken(app, jwtApp, 'alice', ALICE_PW);
    const header = decodeProtectedHeader(real.access_token);
    const claims = decodeJwt(real.access_token);
    t.equal(header.alg, 'RS256');
    t.ok(header.kid);
    const { kid: currentKid, privateKey: realKey } = await services.keys.signingKey(SUPER_TENANT.id);
    t.equal(header.kid, currentKid);
    const now = Math.floor(Date.now() / 1000);

    const sign = (key: Parameters<SignJWT['sign']>[0], protectedHeader: Record<string, unknown>, payload: JWTPayload = claims) =>
      new SignJWT(payload).setProtectedHeader(protectedHeader as { alg: string }).sign(key);
    const tryToken = async (token: string) =>
      register(app, bearer(token), { clientName: fresh('forged'), owner: 'alice', grantType: 'password' });

    // Control: the same claims signed with the service's real key do work, so each refusal below
    // is about the one thing that differs.
    const control = await tryToken(await sign(realKey, { alg: 'RS256', kid: currentKid, typ: 'at+jwt' }));
    t.equal(control.statusCode, 200, `control: ${control.body}`);

    const other = await generateKeyPair('RS256');
    assertUnauthorized(t, await tryToken(await sign(other.privateKey, { alg: 'RS256', kid: currentKid, typ: 'at+jwt' })), badPassword, 'another key, our kid');
    assertUnauthorized(t, await tryToken(await sign(other.privateKey, { alg: 'RS256', kid: 'unknown-kid', typ: 'at+jwt' })), badPassword, 'another key, unknown kid');
    assertUnauthorized(t, await tryToken(await sign(realKey, { alg: 'RS256', typ: 'at+jwt' })), badPassword, 'our key, no kid');
    // Our RSA key under another RSA algorithm: a key verifies with its own algorithm only.
    for (const alg of ['PS256', 'RS384', 'RS512']) {
      assertUnauthorized(t, await tryToken(await sign(realKey, { alg, kid: currentKid, typ: 'at+jwt' })), badPassword, `our key as ${alg}`);
    }
    const ec = await generateKeyPair('ES256');
    assertUnauthorized(t, await tryToken(await sign(ec.privateKey, { alg: 'ES256', kid: currentKid, typ: 'at+jwt' })), badPassword, 'an EC key, our kid');

    const noneHeader = b64url({ alg: 'none', kid: currentKid, typ: 'at+jwt' });
    const body = b64url(claims);
    assertUnauthorized(t, await tryToken(`${noneHeader}.${body}.`), badPassword, 'alg none, empty signature');
    assertUnauthorized(t, await tryToken(`${noneHeader}.${body}.AAAA`), badPassword, 'alg none, junk signature');
    const realSignature = real.access_token.split('.')[2]!;
    assertUnauthorized(t, await tryToken(`${noneHeader}.${body}.${realSignature}`), badPassword, 'alg none, a real signature');
    // The real signature over other claims (here: another user).
    const [realHeader] = real.access_token.split('.');
    assertUnauthorized(t, await tryToken(`${realHeader}.${b64url({ ...claims, sub: ADMIN })}.${realSignature}`), badPassword, 'tampered payload');

    // HS256 keyed with the public JWK (algorithm confusion).
    const jwks = (await services.keys.jwks(SUPER_TENANT.id)).keys;
    const hsSecret = new TextEncoder().encode(JSON.stringify(jwks[0]));
    assertUnauthorized(t, await tryToken(await sign(hsSecret, { alg: 'HS256', kid: currentKid, typ: 'at+jwt' })), badPassword, 'HS256 with the public key');

    // Our key, but expired by its own exp claim (the database row is still active).
    const expired = await sign(realKey, { alg: 'RS256', kid: currentKid, typ: 'at+jwt' }, { ...claims, iat: now - 7200, exp: now - 60 });
    assertUnauthorized(t, await tryToken(expired), badPassword, 'expired exp claim');
    // Our key, another issuer.
    const foreignIssuer = await sign(realKey, { alg: 'RS256', kid: currentKid, typ: 'at+jwt' }, { ...claims, iss: 'https://evil.example' });
    assertUnauthorized(t, await tryToken(foreignIssuer), badPassword, 'another issuer');
    t.equal(claims.iss, ISSUER);
    // Our key, a jti that names no token.
    const unknownJti = await sign(realKey, { alg: 'RS256', kid: currentKid, typ: 'at+jwt' }, { ...claims, jti: '00000000-0000-4000-8000-000000000000' });
    assertUnauthorized(t, await tryToken(unknownJti), badPassword, 'unknown jti');
    const nonUuidJti = await sign(realKey, { alg: 'RS256', kid: currentKid, typ: 'at+jwt' }, { ...claims, jti: "x' OR 1=1 --" });
    assertUnauthorized(t, await tryToken(nonUuidJti), badPassword, 'jti not a uuid');
    // Our key, a jti of a token that was revoked: the database decides, not the signature.
    const revokedToken = await passwordToken(app, jwtApp, 'alice', ALICE_PW);
    t.equal((await formPost(app, '/oauth2/revoke', jwtApp, { token: revokedToken.access_token })).statusCode, 200);
    const revokedJti = await sign(realKey, { alg: 'RS256', kid: currentKid, typ: 'at+jwt' }, decodeJwt(revokedToken.access_token));
    assertUnauthorized(t, await tryToken(revokedJti), badPassword, 'a revoked jti re-signed');
  });

  t.test('the token of a deleted user → 401', async (t) => {
    const carolId = await createUser(app, 'carol', 'carol-Pa55word');
    const carolApp = await registerOk(app, basic('carol', 'carol-Pa55word'), { clientName: 'carol-app', owner: 'carol', grantType: ALL_GRANTS, tokenType: 'JWT' });
    const tokens = [
      await passwordToken(app, jwtApp, 'carol', 'carol-Pa55word'),
      await passwordToken(app, opaqueApp, 'carol', 'carol-Pa55word'),
      await passwordToken(app, carolApp, 'carol', 'carol-Pa55word'),
    ];
    for (const token of tokens) {
      const ok = await register(app, bearer(token.access_token), { clientName: fresh('carol-pre'), owner: 'carol', grantType: 'password' });
      t.equal(ok.statusCode, 200, ok.body);
    }
    const del = await app.inject({ method: 'DELETE', url: `/scim2/Users/${carolId}`, headers: { authorization: ADMIN_AUTH } });
    t.equal(del.statusCode, 204, del.body);
    for (const token of tokens) {
      const res = await register(app, bearer(token.access_token), { clientName: fresh('carol-post'), owner: 'carol', grantType: 'password' });
      assertUnauthorized(t, res, badPassword, 'deleted user');
    }
    const basicRes = await register(app, basic('carol', 'carol-Pa55word'), { clientName: fresh('carol-basic'), owner: 'carol', grantType: 'password' });
    assertUnauthorized(t, basicRes, badPassword, 'deleted user over Basic');
    // A new user of the same name does not inherit the old tokens.
    await createUser(app, 'carol', 'carol-Pa55word');
    for (const token of tokens) {
      const res = await register(app, bearer(token.access_token), { clientName: fresh('carol-new'), owner: 'carol', grantType: 'password' });
      assertUnauthorized(t, res, badPassword, 're-created user');
    }
  });

  t.test('scheme handling', async (t) => {
    const token = await passwordToken(app, opaqueApp, 'alice', ALICE_PW);
    const good = await register(app, bearer(token.access_token), { clientName: fresh('one-header'), owner: 'alice', grantType: 'password' });
    t.equal(good.statusCode, 200);
    const lower = await register(app, `bearer ${token.access_token}`, { clientName: fresh('lower-scheme'), owner: 'alice', grantType: 'password' });
    t.equal(lower.statusCode, 200, 'the scheme name is case-insensitive (RFC 7235 §2.1)');
    const none = await register(app, undefined, { clientName: fresh('no-header'), owner: 'alice', grantType: 'password' });
    assertUnauthorized(t, none, badPassword, 'no header');
  });
});

t.test('end-to-end: register over Basic, get a token with the app, register over Bearer', async (t) => {
  const { app } = await buildTestApp(t);
  await createUser(app, 'dave', 'dave-Pa55word');
  const DAVE_AUTH = basic('dave', 'dave-Pa55word');
  const first = await registerOk(app, DAVE_AUTH, { clientName: 'dave-cli', owner: 'dave', grantType: 'password refresh_token', tokenType: 'JWT' });

  const tokenRes = await formPost(app, '/oauth2/token', first, {
    grant_type: 'password',
    username: 'dave',
    password: 'dave-Pa55word',
    scope: APP_MANAGE,
  });
  t.equal(tokenRes.statusCode, 200, tokenRes.body);
  const token = tokenRes.json() as TokenBody & { token_type: string; expires_in: number };
  t.equal(token.scope, APP_MANAGE);
  t.equal(token.token_type, 'Bearer');

  const second = await register(app, bearer(token.access_token), { clientName: 'dave-second', owner: 'dave', grantType: 'client_credentials' });
  t.equal(second.statusCode, 200, second.body);
  const created = second.json() as DcrResult;
  t.equal(created.appOwner, 'dave');
  t.not(created.clientId, first.clientId);

  // The CLI's "login again" with the first name, over Bearer: the same app back.
  const again = await register(app, bearer(token.access_token), { clientName: 'dave-cli', owner: 'dave', grantType: 'password refresh_token' });
  t.equal(again.statusCode, 200);
  t.same(again.json(), first);

  // After a refresh, the new access token works and the old one no longer does: a refresh revokes
  // the access token it replaces, as WSO2 IS does (and announces it to API Manager, issue 22).
  const refreshed = await formPost(app, '/oauth2/token', first, { grant_type: 'refresh_token', refresh_token: token.refresh_token! });
  t.equal(refreshed.statusCode, 200, refreshed.body);
  const next = refreshed.json() as TokenBody;
  t.equal((await register(app, bearer(next.access_token), { clientName: 'dave-third', owner: 'dave', grantType: 'password' })).statusCode, 200);
  t.equal((await register(app, bearer(token.access_token), { clientName: 'dave-fourth', owner: 'dave', grantType: 'password' })).statusCode, 401);
});

t.test("an application's own token and apim:dcr:app_manage (DCR_APP_TOKENS_MANAGE_APPS)", async (t) => {
  const { app, db, appDb, secrets } = await buildTestApp(t);
  await createUser(app, 'alice', ALICE_PW);
  const aliceApp = await registerOk(app, basic('alice', ALICE_PW), { clientName: 'alice-own', owner: 'alice', grantType: ALL_GRANTS });
  const adminApp = await registerOk(app, ADMIN_AUTH, { clientName: 'admin-tool', owner: ADMIN, grantType: ALL_GRANTS });
  const ccToken = async (target: FastifyInstance) => {
    const res = await formPost(target, '/oauth2/token', adminApp, { grant_type: 'client_credentials', scope: APP_MANAGE });
    t.equal(res.statusCode, 200, res.body);
    return res.json() as TokenBody;
  };

  t.test('default (WSO2): the app acts for its owner, the super admin, and gets other owners\' secrets', async (t) => {
    const token = await ccToken(app);
    t.equal(token.scope, APP_MANAGE);
    const res = await register(app, bearer(token.access_token), { clientName: 'alice-own', owner: 'alice', grantType: ALL_GRANTS });
    t.equal(res.statusCode, 200, 'the super admin may ask for any owner');
    t.equal((res.json() as DcrResult).clientSecret, aliceApp.clientSecret, "alice's real secret: what WSO2 does too (README, Security model)");
  });

  t.test('DCR_APP_TOKENS_MANAGE_APPS=false: no application token carries or uses the scope', async (t) => {
    const before = await ccToken(app);
    // A second instance over the same database, configured to deny it.
    const { buildApp } = await import('../../src/app.js');
    const { createServices } = await import('../../src/runtime/composition.js');
    const { TEST_SERVICE_CONFIG, FAST_HASHER, testKeyPairs } = await import('../fixtures/app.js');
    const strictServices = createServices({ ...TEST_SERVICE_CONFIG, appTokensManageApps: false }, { db: appDb, maintenance: db, secrets, hasher: FAST_HASHER, newKeyPair: testKeyPairs() });
    const strict = await buildApp(strictServices, { bodyLimit: 65536, logger: false, publicUrl: ISSUER, docs: false });
    t.teardown(() => strict.close());

    const denied = await ccToken(strict);
    t.equal(denied.scope, 'default', 'the scope is not granted to the app');
    const withDenied = await register(strict, bearer(denied.access_token), { clientName: 'x', owner: ADMIN, grantType: 'password' });
    t.equal(withDenied.statusCode, 401);
    const withOlder = await register(strict, bearer(before.access_token), { clientName: 'alice-own', owner: 'alice', grantType: ALL_GRANTS });
    t.equal(withOlder.statusCode, 401, 'a token issued before the setting changed no longer acts either');
    t.same(withOlder.json(), UNAUTHORIZED);
    const userToken = await passwordToken(strict, adminApp, ADMIN, ADMIN_PASSWORD);
    t.equal(userToken.scope, APP_MANAGE, "a user's token still gets it");
    const withUser = await register(strict, bearer(userToken.access_token), { clientName: 'alice-own', owner: 'alice', grantType: ALL_GRANTS });
    t.equal(withUser.statusCode, 200, 'and uses it');
  });
});
