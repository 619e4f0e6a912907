/**
 * client_credentials acts for the app's owner (wso2-behavior.md §6), who is looked up by the
 * token's INSERT itself (src/repositories/tokens.ts insertAccessForUsername): the owner's tokens
 * carry the owner's identity and scopes, and an app that outlived its owner gets invalid_grant
 * with nothing stored, for JWT and opaque apps alike.
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
    t.match(introspection.json(), { active: true, username: 'alice', sub: 'alice', client_id: client.clientId });
    const { rows } = await db.query<{ user_id: string; grant_type: string; family_id: string | null }>(
      'SELECT user_id, grant_type, family_id FROM access_tokens ORDER BY issued_at DESC, id LIMIT 1',
    );
    t.same(rows[0], { user_id: aliceId, grant_type: 'client_credentials', family_id: null });
  });
}

t.test('an app that outlived its owner: invalid_grant, and no token stored', async (t) => {
  const before = Number((await db.query<{ n: string }>('SELECT count(*) AS n FROM access_tokens')).rows[0]!.n);
  const removed = await app.inject({ method: 'DELETE', url: `/scim2/Users/${aliceId}`, headers: { authorization: ADMIN_AUTH } });
  t.equal(removed.statusCode, 204);
  for (const [kind, client] of Object.entries(clients)) {
    const res = await clientCredentials(app, client);
    t.equal(res.statusCode, 400, kind);
    t.match(res.json(), { error: 'invalid_grant', error_description: "The application's owner 'alice' no longer exists" }, kind);
  }
  const after = Number((await db.query<{ n: string }>('SELECT count(*) AS n FROM access_tokens')).rows[0]!.n);
  t.equal(after, 0, "the owner's tokens went with the owner");
  t.ok(before > 0, 'there were tokens before');
});
