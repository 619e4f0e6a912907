/**
 * Who may learn what of a token at /oauth2/introspect (RFC 7662 §4): a client authenticating as
 * itself sees its own tokens, access and refresh, and any other token exactly as an unknown one
 * (`{"active":false}`); the super admin by HTTP Basic (how API Manager's Key Manager connector
 * calls), and the users DCR_APP_MANAGE_USERS lists when it is a list, see every token; any other
 * user's Basic is 401 invalid_client.
 */
import type { FastifyInstance } from 'fastify';
import t from 'tap';
import { ADMIN_AUTH, basic, buildTestApp, createUser } from '../fixtures/app.js';

const FORM = 'application/x-www-form-urlencoded';
const ALL_GRANTS = 'client_credentials password refresh_token';

async function registerApp(app: FastifyInstance, auth: string, clientName: string, owner: string) {
  const res = await app.inject({
    method: 'POST',
    url: '/client-registration/v0.17/register',
    headers: { authorization: auth },
    payload: { clientName, owner, grantType: ALL_GRANTS },
  });
  if (res.statusCode !== 200) throw new Error(`${res.statusCode} ${res.body}`);
  return res.json() as { clientId: string; clientSecret: string };
}

function introspect(app: FastifyInstance, authorization: string, token: string) {
  return app.inject({
    method: 'POST',
    url: '/oauth2/introspect',
    headers: { 'content-type': FORM, authorization },
    payload: new URLSearchParams({ token }).toString(),
  });
}

for (const listed of [false, true]) {
  t.test(listed ? 'DCR_APP_MANAGE_USERS lists carol' : 'DCR_APP_MANAGE_USERS is * (the default)', async (t) => {
    const { app } = await buildTestApp(t, listed ? { appManageUsers: ['carol'] } : {});
    await createUser(app, 'alice', 'alice-Pa55word');
    await createUser(app, 'carol', 'carol-Pa55word');
    const a = await registerApp(app, basic('alice', 'alice-Pa55word'), 'alice_a', 'alice');
    const b = await registerApp(app, basic('alice', 'alice-Pa55word'), 'alice_b', 'alice');
    const issued = await app.inject({
      method: 'POST',
      url: '/oauth2/token',
      headers: { 'content-type': FORM, authorization: basic(a.clientId, a.clientSecret) },
      payload: new URLSearchParams({ grant_type: 'password', username: 'alice', password: 'alice-Pa55word' }).toString(),
    });
    const tokens = issued.json() as { access_token: string; refresh_token: string };

    for (const [kind, token] of Object.entries({ access: tokens.access_token, refresh: tokens.refresh_token })) {
      const own = await introspect(app, basic(a.clientId, a.clientSecret), token);
      t.equal(own.json().active, true, `${kind}: the issuing client sees it`);
      const other = await introspect(app, basic(b.clientId, b.clientSecret), token);
      t.equal(other.statusCode, 200);
      t.strictSame(other.json(), { active: false }, `${kind}: another client, even of the same owner, learns nothing`);
      const admin = await introspect(app, ADMIN_AUTH, token);
      t.match(admin.json(), { active: true, client_id: a.clientId, username: 'alice' }, `${kind}: the super admin sees it`);
      const carol = await introspect(app, basic('carol', 'carol-Pa55word'), token);
      if (listed) t.match(carol.json(), { active: true, client_id: a.clientId }, `${kind}: a listed user sees it`);
      else t.equal(carol.statusCode, 401, `${kind}: with *, a user is not entitled: 401`);
      const alice = await introspect(app, basic('alice', 'alice-Pa55word'), token);
      t.equal(alice.statusCode, 401, `${kind}: the token's own user, by Basic, is not a client: 401`);
      t.match(alice.json(), { error: 'invalid_client' });
    }
  });
}
