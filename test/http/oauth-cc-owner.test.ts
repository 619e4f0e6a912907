/**
 * client_credentials acts for the app's owner, who is looked up by the
 * token's INSERT itself (src/repositories/tokens.ts insertAccessForUsername): the owner's tokens
 * carry the owner's identity and scopes. Deleting the owner deletes their apps and tokens (migration
 * 006): a new user of the same name re-registering an old app's name gets a new app, and the old
 * app's credentials and tokens stop working, for JWT and opaque apps alike.
 */
import type { FastifyInstance } from 'fastify';
import t from 'tap';
import { ADMIN_AUTH, basic, buildTestApp, createUser } from '../fixtures/app.js';

const ALICE_PW = 'alice-Pa55word';

async function registerApp(app: FastifyInstance, auth: string, clientName: string, tokenType?: string) {
  const res = await app.inject({
    method: 'POST',
    url: '/client-registration/v0.17/register',
    headers: { authorization: auth },
    payload: { clientName, owner: 'alice', grantType: 'client_credentials', ...(tokenType ? { tokenType } : {}) },
  });
  if (res.statusCode !== 200) throw new Error(`${res.statusCode} ${res.body}`);
  return res.json() as { clientId: string; clientSecret: string };
}

function clientCredentials(app: FastifyInstance, client: { clientId: string; clientSecret: string }, scope?: string) {
  return app.inject({
    method: 'POST',
    url: '/oauth2/token',
    headers: { authorization: basic(client.clientId, client.clientSecret), 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams({ grant_type: 'client_credentials', ...(scope ? { scope } : {}) }).toString(),
  });
}

const { app, db } = await buildTestApp(t);
const aliceId = await createUser(app, 'alice', ALICE_PW);
const alice = basic('alice', ALICE_PW);
const clients = {
  jwt: await registerApp(app, alice, 'alice-cc-jwt', 'JWT'),
  opaque: await registerApp(app, alice, 'alice-cc-opaque'),
};

for (const [kind, client] of Object.entries(clients)) {
  t.test(`${kind}: the token acts for the owner, with the owner's scopes`, async (t) => {
    const res = await clientCredentials(app, client, 'apim:dcr:app_manage openid');
    t.equal(res.statusCode, 200, res.body);
    const token = res.json() as { access_token: string; scope: string };
    t.equal(token.scope, 'apim:dcr:app_manage openid');
    const introspection = await app.inject({
      method: 'POST',
      url: '/oauth2/introspect',
      headers: { authorization: basic(client.clientId, client.clientSecret), 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({ token: token.access_token }).toString(),
    });
    t.match(introspection.json(), { active: true, username: 'alice', client_id: client.clientId, aut: 'APPLICATION' });
    // sub (with jti and iss) only for a JWT, as WSO2 IS answers.
    t.equal(introspection.json().sub, kind === 'jwt' ? 'alice' : undefined);
    const { rows } = await db.query<{ user_id: string; grant_type: string; family_id: string | null }>(
      'SELECT user_id, grant_type, family_id FROM access_tokens ORDER BY issued_at DESC, id LIMIT 1',
    );
    t.same(rows[0], { user_id: aliceId, grant_type: 'client_credentials', family_id: null });
  });
}

t.test("a deleted user's apps go with them, and a new user of the same name inherits nothing", async (t) => {
  const tokens = Object.fromEntries(
    await Promise.all(Object.entries(clients).map(async ([kind, client]) => [kind, (await clientCredentials(app, client)).json().access_token as string])),
  );
  t.ok(Number((await db.query<{ n: string }>('SELECT count(*) AS n FROM access_tokens')).rows[0]!.n) > 0, 'there are tokens');
  const removed = await app.inject({ method: 'DELETE', url: `/scim2/Users/${aliceId}`, headers: { authorization: ADMIN_AUTH } });
  t.equal(removed.statusCode, 204);
  t.equal(Number((await db.query<{ n: string }>('SELECT count(*) AS n FROM applications')).rows[0]!.n), 0, "alice's apps are gone");
  t.equal(Number((await db.query<{ n: string }>('SELECT count(*) AS n FROM access_tokens')).rows[0]!.n), 0, 'and every token of them');

  // The new alice: same name, another account.
  await createUser(app, 'alice', 'new-alice-Pa55');
  const newAlice = basic('alice', 'new-alice-Pa55');
  for (const [kind, old] of Object.entries(clients)) {
    const res = await clientCredentials(app, old);
    t.equal(res.statusCode, 401, `${kind}: the old app's credentials no longer authenticate`);
    t.match(res.json(), { error: 'invalid_client' });
    const bearer = await app.inject({
      method: 'POST',
      url: '/client-registration/v0.17/register',
      headers: { authorization: `Bearer ${tokens[kind]}` },
      payload: { clientName: 'any', owner: 'alice', grantType: 'client_credentials' },
    });
    t.equal(bearer.statusCode, 401, `${kind}: the old app's token acts for nobody`);
    const again = await registerApp(app, newAlice, `alice-cc-${kind === 'jwt' ? 'jwt' : 'opaque'}`, kind === 'jwt' ? 'JWT' : undefined);
    t.not(again.clientId, old.clientId, `${kind}: re-registering the name makes a new app`);
    t.not(again.clientSecret, old.clientSecret, `${kind}: with a new secret`);
  }
});
