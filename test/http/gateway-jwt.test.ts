/**
 * The server's tokens as their consumers take them, over real HTTP on 127.0.0.1:
 * - WSO2 API Manager's gateway (test/fixtures/apim-gateway.ts: RSA only, kid lookup in the JWKS with
 *   one re-fetch, exact issuer, consumer key from azp, scopes from scope, aut), for every grant, and
 *   across a key rotation;
 * - openid-client (discovery at <issuer>/.well-known/openid-configuration and at RFC 8414's path,
 *   every grant, introspection, revocation);
 * - jose's createRemoteJWKSet, as any resource server verifies;
 * - introspection as API Manager's Key Manager connector calls it (admin Basic, X-WSO2-Tenant).
 */
import type { FastifyInstance } from 'fastify';
import { createRemoteJWKSet, decodeJwt, decodeProtectedHeader, generateKeyPair, jwtVerify, SignJWT } from 'jose';
import * as oidc from 'openid-client';
import t from 'tap';
import { SUPER_TENANT } from '../../src/domain/tenants.js';
import { ADMIN, ADMIN_AUTH, basic, buildTestApp, createUser } from '../fixtures/app.js';
import { ApimGateway } from '../fixtures/apim-gateway.js';
import { freePort } from '../fixtures/free-port.js';

const port = await freePort();
const base = `http://127.0.0.1:${port}`;
const issuer = `${base}/oauth2/token`;
const { app, services } = await buildTestApp(t, { issuer, appOptions: { publicUrl: base } });
await app.listen({ host: '127.0.0.1', port });

const ALICE_PW = 'alice-Pa55word';
await createUser(app, 'alice', ALICE_PW);

async function registerApp(server: FastifyInstance, clientName: string, tokenType?: string) {
  const res = await server.inject({
    method: 'POST',
    url: '/client-registration/v0.17/register',
    headers: { authorization: ADMIN_AUTH },
    payload: { clientName, owner: ADMIN, grantType: 'client_credentials password refresh_token', ...(tokenType ? { tokenType } : {}) },
  });
  if (res.statusCode !== 200) throw new Error(`register: ${res.statusCode} ${res.body}`);
  return res.json() as { clientId: string; clientSecret: string };
}
const jwtApp = await registerApp(app, 'gateway-jwt-app', 'JWT');
const opaqueApp = await registerApp(app, 'gateway-opaque-app');

const form = (params: Record<string, string>) => new URLSearchParams(params).toString();
async function token(client: { clientId: string; clientSecret: string }, params: Record<string, string>) {
  const res = await fetch(`${base}/oauth2/token`, {
    method: 'POST',
    headers: { authorization: basic(client.clientId, client.clientSecret), 'content-type': 'application/x-www-form-urlencoded' },
    body: form(params),
  });
  const body = (await res.json()) as { access_token: string; refresh_token?: string; scope: string };
  if (res.status !== 200) throw new Error(`token: ${res.status} ${JSON.stringify(body)}`);
  return body;
}
const passwordGrant = { grant_type: 'password', username: 'alice', password: ALICE_PW, scope: 'apim:dcr:app_manage' };

t.test("API Manager's gateway accepts the tokens of every grant", async (t) => {
  const gateway = new ApimGateway({ issuer, jwksUrl: `${base}/oauth2/jwks` });
  const cc = await token(jwtApp, { grant_type: 'client_credentials', scope: 'apim:dcr:app_manage' });
  const pw = await token(jwtApp, passwordGrant);
  const refreshed = await token(jwtApp, { grant_type: 'refresh_token', refresh_token: pw.refresh_token! });
  const seen = {
    client_credentials: await gateway.validate(cc.access_token),
    password: await gateway.validate(pw.access_token),
    refresh_token: await gateway.validate(refreshed.access_token),
  };
  t.same(
    { ...seen.client_credentials, jti: '', issuedAt: 0 },
    { consumerKey: jwtApp.clientId, scopes: ['apim:dcr:app_manage'], applicationToken: true, endUser: undefined, jti: '', issuedAt: 0 },
    'client_credentials: an application token of the consumer key, with its scopes',
  );
  for (const grant of ['password', 'refresh_token'] as const) {
    t.same(
      { ...seen[grant], jti: '', issuedAt: 0 },
      { consumerKey: jwtApp.clientId, scopes: ['apim:dcr:app_manage'], applicationToken: false, endUser: 'alice', jti: '', issuedAt: 0 },
      `${grant}: a user token, alice's`,
    );
  }
  t.equal(new Set(Object.values(seen).map((v) => v.jti)).size, 3, 'a jti of its own for each token');
  t.equal(gateway.fetches, 1, 'one JWKS fetch for all of them');

  // What the gateway refuses.
  const [h, p, s] = cc.access_token.split('.');
  const tampered = `${h}.${Buffer.from(JSON.stringify({ ...decodeJwt(cc.access_token), azp: 'someone-else' })).toString('base64url')}.${s}`;
  await t.rejects(gateway.validate(tampered), 'a tampered payload');
  await t.rejects(new ApimGateway({ issuer: `${issuer}/`, jwksUrl: `${base}/oauth2/jwks` }).validate(cc.access_token), /issuer/, 'another issuer (a trailing slash)');
  const ec = await generateKeyPair('ES256');
  const es256 = await new SignJWT(decodeJwt(cc.access_token)).setProtectedHeader({ alg: 'ES256', kid: decodeProtectedHeader(cc.access_token).kid!, typ: 'at+jwt' }).sign(ec.privateKey);
  await t.rejects(gateway.validate(es256), /ES256 not accepted/, 'ES256');
  const before = gateway.fetches;
  const unknownKid = `${Buffer.from(JSON.stringify({ alg: 'RS256', kid: 'no-such-kid', typ: 'at+jwt' })).toString('base64url')}.${p}.${s}`;
  await t.rejects(gateway.validate(unknownKid), /unknown kid/, 'an unknown kid');
  t.equal(gateway.fetches, before + 1, 'after exactly one re-fetch');
  t.equal(decodeProtectedHeader(cc.access_token).typ, 'at+jwt');
});

t.test('a rotation, as the gateway sees it: one re-fetch, old and new tokens accepted', async (t) => {
  const gateway = new ApimGateway({ issuer, jwksUrl: `${base}/oauth2/jwks` });
  const old = await token(jwtApp, { grant_type: 'client_credentials' });
  await gateway.validate(old.access_token);
  const newKid = await services.keys.rotate(SUPER_TENANT.id);
  const fresh = await token(jwtApp, { grant_type: 'client_credentials' });
  t.equal(decodeProtectedHeader(fresh.access_token).kid, newKid);
  t.equal((await gateway.validate(fresh.access_token)).consumerKey, jwtApp.clientId, 'the new key after a re-fetch');
  t.equal(gateway.fetches, 2);
  t.equal((await gateway.validate(old.access_token)).consumerKey, jwtApp.clientId, 'the old key is still published');
  t.equal(gateway.fetches, 2, 'no further fetch');
});

t.test('openid-client: discovery, every grant, introspection, revocation', async (t) => {
  const config = await oidc.discovery(new URL(issuer), jwtApp.clientId, jwtApp.clientSecret, undefined, { execute: [oidc.allowInsecureRequests] });
  const metadata = config.serverMetadata();
  t.equal(metadata.issuer, issuer);
  t.equal(metadata.token_endpoint, `${base}/oauth2/token`);
  t.equal(metadata.jwks_uri, `${base}/oauth2/jwks`);
  const rfc8414 = await oidc.discovery(new URL(issuer), jwtApp.clientId, jwtApp.clientSecret, undefined, {
    execute: [oidc.allowInsecureRequests],
    algorithm: 'oauth2',
  });
  t.same(rfc8414.serverMetadata(), metadata, "RFC 8414's path gives the same document");

  const jwks = createRemoteJWKSet(new URL(metadata.jwks_uri!));
  const verify = (accessToken: string) => jwtVerify(accessToken, jwks, { issuer, audience: jwtApp.clientId, typ: 'at+jwt', algorithms: ['RS256'] });

  const cc = await oidc.clientCredentialsGrant(config, { scope: 'apim:dcr:app_manage' });
  t.equal(cc.token_type, 'bearer', 'client_credentials (openid-client lower-cases token_type)');
  t.equal(cc.scope, 'apim:dcr:app_manage');
  t.equal(cc.expires_in, 3600);
  t.notOk(cc.refresh_token);
  t.match((await verify(cc.access_token)).payload, { sub: ADMIN, aut: 'APPLICATION', azp: jwtApp.clientId });

  const pw = await oidc.genericGrantRequest(config, 'password', { username: 'alice', password: ALICE_PW, scope: 'apim:dcr:app_manage' });
  t.ok(pw.refresh_token, 'password: a refresh token');
  t.match((await verify(pw.access_token)).payload, { sub: 'alice', aut: 'APPLICATION_USER', scope: 'apim:dcr:app_manage' });

  const refreshed = await oidc.refreshTokenGrant(config, pw.refresh_token!);
  t.not(refreshed.refresh_token, pw.refresh_token, 'refresh rotates');
  t.match((await verify(refreshed.access_token)).payload, { sub: 'alice', aut: 'APPLICATION_USER' });

  const introspection = await oidc.tokenIntrospection(config, refreshed.access_token);
  const claims = decodeJwt(refreshed.access_token);
  t.same(
    introspection,
    {
      active: true,
      scope: 'apim:dcr:app_manage',
      client_id: jwtApp.clientId,
      username: 'alice',
      token_type: 'Bearer',
      exp: claims.exp,
      iat: claims.iat,
      nbf: claims.nbf,
      aut: 'APPLICATION_USER',
      aud: jwtApp.clientId,
      jti: claims.jti,
      sub: 'alice',
      iss: issuer,
    },
    'introspection repeats the JWT',
  );
  await oidc.tokenRevocation(config, refreshed.access_token);
  t.same(await oidc.tokenIntrospection(config, refreshed.access_token), { active: false }, 'revoked');
});

t.test("introspection as API Manager's Key Manager connector calls it", async (t) => {
  const introspect = (tokenValue: string, headers: Record<string, string> = {}, authorization = ADMIN_AUTH) =>
    fetch(`${base}/oauth2/introspect`, {
      method: 'POST',
      headers: { authorization, 'content-type': 'application/x-www-form-urlencoded', ...headers },
      body: form({ token: tokenValue }),
    });
  const jwt = await token(jwtApp, passwordGrant);
  const opaque = await token(opaqueApp, { grant_type: 'client_credentials' });
  for (const [label, value, jwtToken] of [
    ['JWT', jwt.access_token, true],
    ['opaque', opaque.access_token, false],
  ] as const) {
    const res = await introspect(value, { 'X-WSO2-Tenant': 'carbon.super' });
    t.equal(res.status, 200);
    t.equal(res.headers.get('cache-control'), 'no-store');
    const body = (await res.json()) as Record<string, unknown>;
    t.same(
      Object.keys(body),
      ['active', 'scope', 'client_id', 'username', 'token_type', 'exp', 'iat', 'nbf', 'aut', 'aud', ...(jwtToken ? ['jti', 'sub', 'iss'] : [])],
      `${label}: exactly these fields`,
    );
    t.equal(body.aut, jwtToken ? 'APPLICATION_USER' : 'APPLICATION', `${label}: aut`);
    t.equal(body.token_type, 'Bearer');
    t.equal(await (await introspect(value, { 'X-WSO2-Tenant': 'other.com' })).text(), '{"active":false}', `${label}: another tenant sees nothing`);
  }
  const refresh = (await (await introspect(jwt.refresh_token!)).json()) as Record<string, unknown>;
  t.equal(refresh.token_type, 'Refresh', 'a refresh token is Refresh, which API Manager refuses as an access token');
  const alice = await introspect(jwt.access_token, {}, basic('alice', ALICE_PW));
  t.equal(alice.status, 401, 'a user who may not read every token: 401');
  t.match(await alice.json(), { error: 'invalid_client' });
});
