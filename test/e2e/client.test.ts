/**
 * The typed client (src/client.ts) against the real server process: every call below goes through
 * openapi-fetch over the generated `paths` types, so a drift between the spec, the generated types
 * and the server shows up here as a type error or a failed assertion.
 */
import t from 'tap';
import { basicAuth, bearer, createDcrClient, createPlatformClient, DCR_API_PREFIX, formEncoded } from '../../src/client.js';
import { loadSpec, mountPrefix } from '../../src/http/spec.js';
import { freshDataDir, startServer } from '../fixtures/dcr-process.js';

const ADMIN_PASSWORD = 'client-e2e-Admin-1';
const ALICE_PASSWORD = 'alice-Secret-1';

t.test('the client mounts the DCR API where the spec says', async (t) => {
  t.equal(DCR_API_PREFIX, mountPrefix(loadSpec('wso2-dcr-api.yaml')));
  t.equal(mountPrefix(loadSpec('platform-api.yaml')), '', 'the platform API is at the root');
  t.equal(basicAuth('admin', 'pässword'), `Basic ${Buffer.from('admin:pässword').toString('base64')}`, 'UTF-8 Basic');
  t.equal(bearer('abc'), 'Bearer abc');
});

t.test('user, registration, token, Bearer registration, introspection: only through the typed client', async (t) => {
  const dataDir = await freshDataDir(t);
  const server = await startServer(t, { DCR_DATA_DIR: dataDir, DCR_ADMIN_PASSWORD: ADMIN_PASSWORD });
  const admin = createPlatformClient({ baseUrl: server.baseUrl, authorization: basicAuth('admin', ADMIN_PASSWORD) });

  const created = await admin.POST('/scim2/Users', {
    body: { schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName: 'alice', password: ALICE_PASSWORD },
  });
  t.equal(created.response.status, 201, JSON.stringify(created.error));
  t.equal(created.data?.userName, 'alice');
  t.match(created.data?.id, /^[0-9a-f-]{36}$/);
  t.notOk(JSON.stringify(created.data).includes(ALICE_PASSWORD), 'the password is not echoed');

  const duplicate = await admin.POST('/scim2/Users', {
    body: { schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName: 'alice', password: ALICE_PASSWORD },
  });
  t.equal(duplicate.response.status, 409);
  t.equal(duplicate.error?.scimType, 'uniqueness', 'typed SCIM error body');

  const asAlice = createDcrClient({ baseUrl: server.baseUrl, authorization: basicAuth('alice', ALICE_PASSWORD) });
  const body = { clientName: 'client_e2e_app', owner: 'alice', grantType: 'password refresh_token', saasApp: true };
  const registered = await asAlice.POST('/register', { body });
  t.equal(registered.response.status, 200, JSON.stringify(registered.error));
  const app = registered.data!;
  t.equal(app.clientName, 'client_e2e_app');
  t.equal(app.appOwner, 'alice');
  t.equal(app.isSaasApplication, true);
  t.ok(app.clientId && app.clientSecret, 'credentials issued');
  t.same(JSON.parse(app.jsonString), { grant_types: 'password refresh_token', redirect_uris: null, client_name: 'client_e2e_app' });

  const wrong = await createDcrClient({ baseUrl: server.baseUrl, authorization: basicAuth('alice', 'not-her-password') }).POST(
    '/register',
    { body },
  );
  t.equal(wrong.response.status, 401);
  t.equal(wrong.error?.code, 401, "typed WSO2 Error body");

  const platform = createPlatformClient({ baseUrl: server.baseUrl });
  const token = await platform.POST('/oauth2/token', {
    ...formEncoded({ Authorization: basicAuth(app.clientId, app.clientSecret) }),
    body: { grant_type: 'password', username: 'alice', password: ALICE_PASSWORD, scope: 'apim:dcr:app_manage' },
  });
  t.equal(token.response.status, 200, JSON.stringify(token.error));
  t.equal(token.response.headers.get('cache-control'), 'no-store');
  const tokens = token.data!;
  t.equal(tokens.token_type, 'Bearer');
  t.match(tokens.scope, /apim:dcr:app_manage/);
  t.ok(tokens.expires_in > 0);
  t.type(tokens.refresh_token, 'string', 'a refresh token for an app registered for refresh_token');

  const badGrant = await platform.POST('/oauth2/token', {
    ...formEncoded({ Authorization: basicAuth(app.clientId, app.clientSecret) }),
    body: { grant_type: 'password', username: 'alice', password: 'wrong-password' },
  });
  t.equal(badGrant.response.status, 400);
  t.equal(badGrant.error?.error, 'invalid_grant', 'typed OAuth2 error body');

  const viaBearer = await createDcrClient({ baseUrl: server.baseUrl, authorization: bearer(tokens.access_token) }).POST('/register', {
    body,
  });
  t.equal(viaBearer.response.status, 200, JSON.stringify(viaBearer.error));
  t.equal(viaBearer.data?.clientId, app.clientId, 'the repeated registration answers the same app');
  t.equal(viaBearer.data?.clientSecret, app.clientSecret);

  const introspected = await platform.POST('/oauth2/introspect', {
    ...formEncoded({ Authorization: basicAuth(app.clientId, app.clientSecret) }),
    body: { token: tokens.access_token },
  });
  t.equal(introspected.response.status, 200, JSON.stringify(introspected.error));
  t.equal(introspected.data?.active, true);
  t.equal(introspected.data?.username, 'alice');
  t.equal(introspected.data?.client_id, app.clientId);
  t.match(introspected.data?.scope, /apim:dcr:app_manage/);

  const unknown = await platform.POST('/oauth2/introspect', {
    ...formEncoded({ Authorization: basicAuth(app.clientId, app.clientSecret) }),
    body: { token: 'not-a-token' },
  });
  t.same(unknown.data, { active: false });
});
