/**
 * DCR_JWT_ALG across an upgrade: a database whose key and tokens are ES256 (every release before
 * RS256 became the default) started with RS256, then with PS256. Each start with another algorithm
 * makes a key of the new one current; the tokens signed before keep working (Bearer, introspection,
 * the JWKS) until they expire, and a key verifies with its own algorithm only. Instances starting
 * together agree on one new key.
 */
import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose';
import t from 'tap';
import { SUPER_TENANT } from '../../src/domain/tenants.js';
import { buildApp } from '../../src/app.js';
import { SecretBox } from '../../src/crypto/secret-box.js';
import { createServices } from '../../src/runtime/composition.js';
import type { SigningAlg } from '../../src/crypto/jws.js';
import { ADMIN, ADMIN_AUTH, ADMIN_PASSWORD, FAST_HASHER, ISSUER, PUBLIC_URL, TEST_SERVICE_CONFIG, basic, testKeyPairs } from '../fixtures/app.js';
import { testDatabase } from '../fixtures/db.js';

const { db, appDb } = await testDatabase(t);
const secrets = new SecretBox(randomBytes(32));

/** One instance of the server over the shared database, started with `alg` (as runtime.ts starts). */
async function start(alg: SigningAlg, options: { freshKeys?: boolean } = {}): Promise<{ app: FastifyInstance; services: ReturnType<typeof createServices> }> {
  // freshKeys: really generated pairs, where the process's reused first pair is already in this database.
  const newKeyPair = options.freshKeys ? undefined : testKeyPairs();
  const services = createServices({ ...TEST_SERVICE_CONFIG, jwtAlg: alg }, { db: appDb, maintenance: db, secrets, hasher: FAST_HASHER, newKeyPair });
  await services.users.bootstrapAdmin(ADMIN_PASSWORD, undefined);
  await services.keys.ensureKey(SUPER_TENANT.id);
  const app = await buildApp(services, { bodyLimit: 65536, logger: false, publicUrl: PUBLIC_URL });
  t.teardown(() => app.close());
  return { app, services };
}

async function jwtToken(app: FastifyInstance, client: { clientId: string; clientSecret: string }): Promise<string> {
  const res = await app.inject({
    method: 'POST',
    url: '/oauth2/token',
    headers: { authorization: basic(client.clientId, client.clientSecret), 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams({ grant_type: 'password', username: ADMIN, password: ADMIN_PASSWORD, scope: 'apim:dcr:app_manage' }).toString(),
  });
  if (res.statusCode !== 200) throw new Error(`token: ${res.statusCode} ${res.body}`);
  return (res.json() as { access_token: string }).access_token;
}

const active = async (app: FastifyInstance, token: string) => {
  const res = await app.inject({
    method: 'POST',
    url: '/oauth2/introspect',
    headers: { authorization: ADMIN_AUTH, 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams({ token }).toString(),
  });
  return (res.json() as { active: boolean }).active;
};

const registersWith = async (app: FastifyInstance, token: string, clientName: string) =>
  (
    await app.inject({
      method: 'POST',
      url: '/client-registration/v0.17/register',
      headers: { authorization: `Bearer ${token}` },
      payload: { clientName, owner: ADMIN, grantType: 'password' },
    })
  ).statusCode;

const jwks = async (app: FastifyInstance) => (await app.inject({ method: 'GET', url: '/oauth2/jwks' })).json() as JSONWebKeySet;

t.test('ES256, then RS256, then PS256 over one database', async (t) => {
  const before = await start('ES256');
  const reg = await before.app.inject({
    method: 'POST',
    url: '/client-registration/v0.17/register',
    headers: { authorization: ADMIN_AUTH },
    payload: { clientName: 'upgrade-app', owner: ADMIN, grantType: 'password client_credentials', tokenType: 'JWT' },
  });
  t.equal(reg.statusCode, 200, reg.body);
  const client = reg.json() as { clientId: string; clientSecret: string };
  const es256Token = await jwtToken(before.app, client);
  const es256Kid = decodeProtectedHeader(es256Token).kid!;
  t.equal(decodeProtectedHeader(es256Token).alg, 'ES256');

  // The upgrade: the same database, the new default.
  const after = await start('RS256');
  const rs256Token = await jwtToken(after.app, client);
  const header = decodeProtectedHeader(rs256Token);
  t.equal(header.alg, 'RS256', 'new tokens are RS256');
  t.not(header.kid, es256Kid, 'under a new key');
  const set = await jwks(after.app);
  t.same(
    set.keys.map((key) => [key.kid, key.kty, key.alg, key.use]),
    [
      [header.kid, 'RSA', 'RS256', 'sig'],
      [es256Kid, 'EC', 'ES256', 'sig'],
    ],
    'the JWKS lists the new key first and keeps the old one',
  );
  const local = createLocalJWKSet(set);
  await t.resolves(jwtVerify(es256Token, local, { issuer: ISSUER }), 'the ES256 token verifies with the published keys');
  await t.resolves(jwtVerify(rs256Token, local, { issuer: ISSUER }), 'so does the RS256 one');
  t.equal(await active(after.app, es256Token), true, 'the ES256 token is active after the upgrade');
  t.equal(await registersWith(after.app, es256Token, 'with-es256'), 200, 'and works as a Bearer token');
  t.equal(await registersWith(after.app, rs256Token, 'with-rs256'), 200);
  // The instance still running the old setting picks the new key up at its next key load; its
  // tokens of either key work here and there.
  t.equal(await active(before.app, rs256Token), true, 'an RS256 token at the old instance');

  // A second start with RS256 keeps the key: the kid is stable across restarts.
  const again = await start('RS256');
  t.equal(decodeProtectedHeader(await jwtToken(again.app, client)).kid, header.kid, 'a restart keeps the key');

  // PS256: one more rotation; all three tokens stay valid.
  const pss = await start('PS256');
  const ps256Token = await jwtToken(pss.app, client);
  t.equal(decodeProtectedHeader(ps256Token).alg, 'PS256');
  t.same((await jwks(pss.app)).keys.map((key) => key.alg), ['PS256', 'RS256', 'ES256']);
  for (const token of [es256Token, rs256Token, ps256Token]) t.equal(await active(pss.app, token), true, decodeProtectedHeader(token).alg!);
});

t.test('instances starting together with a new algorithm agree on one key', async (t) => {
  const starts = await Promise.all([1, 2, 3].map(() => start('ES256', { freshKeys: true })));
  const kids = new Set((await Promise.all(starts.map(async ({ services }) => (await services.keys.signingKey(SUPER_TENANT.id)).kid))));
  t.equal(kids.size, 1, 'one current key');
  const { rows } = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM signing_keys WHERE retired_at IS NULL");
  t.equal(rows[0]!.n, 1, 'exactly one active key row');
});
