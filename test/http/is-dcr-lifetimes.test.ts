/**
 * Per-app token lifetimes registered on IS DCR v1.1 (ext_application_token_lifetime for
 * client_credentials, ext_user_token_lifetime for password and refresh_token,
 * ext_refresh_token_lifetime), as the token endpoint applies them: in `expires_in`, a JWT's
 * `exp`, introspection and the stored rows; 0 is the server default, and nothing is longer than
 * the server's (DCR_ACCESS_TOKEN_TTL, DCR_REFRESH_TOKEN_TTL). A PUT takes effect at the next
 * token request of the instance that made it.
 */
import type { FastifyInstance } from 'fastify';
import t from 'tap';
import { ADMIN, ADMIN_AUTH, ADMIN_PASSWORD, basic, buildTestApp } from '../fixtures/app.js';

const BASE = '/api/identity/oauth2/dcr/v1.1/register';
const FORM = 'application/x-www-form-urlencoded';
const ACCESS_TTL = 900;
const REFRESH_TTL = 7200;

interface Registered {
  client_id: string;
  client_secret: string;
}

async function register(app: FastifyInstance, body: Record<string, unknown>): Promise<Registered> {
  const res = await app.inject({ method: 'POST', url: BASE, headers: { authorization: ADMIN_AUTH, 'content-type': 'application/json' }, payload: body });
  if (res.statusCode !== 201) throw new Error(`${res.statusCode} ${res.body}`);
  return res.json() as Registered;
}

async function token(app: FastifyInstance, client: Registered, form: string) {
  const res = await app.inject({ method: 'POST', url: '/oauth2/token', headers: { authorization: basic(client.client_id, client.client_secret), 'content-type': FORM }, payload: form });
  if (res.statusCode !== 200) throw new Error(`${res.statusCode} ${res.body}`);
  return res.json() as { access_token: string; refresh_token?: string; expires_in: number };
}

function claims(jwt: string): { iat: number; exp: number; nbf: number } {
  return JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString('utf8'));
}

async function introspected(app: FastifyInstance, accessToken: string): Promise<{ active: boolean; exp: number; iat: number }> {
  const res = await app.inject({ method: 'POST', url: '/oauth2/introspect', headers: { authorization: ADMIN_AUTH, 'content-type': FORM }, payload: `token=${encodeURIComponent(accessToken)}` });
  return res.json();
}

const PASSWORD = `grant_type=password&username=${ADMIN}&password=${encodeURIComponent(ADMIN_PASSWORD)}`;
const GRANTS = ['client_credentials', 'password', 'refresh_token'];

t.test('each grant takes its lifetime; refresh tokens theirs', async (t) => {
  const { app, db } = await buildTestApp(t, { accessTokenTtlSeconds: ACCESS_TTL, refreshTokenTtlSeconds: REFRESH_TTL });
  const client = await register(app, {
    client_name: 'short_lived',
    grant_types: GRANTS,
    ext_token_type: 'JWT',
    ext_application_token_lifetime: 120,
    ext_user_token_lifetime: 300,
    ext_refresh_token_lifetime: 600,
  });

  const cc = await token(app, client, 'grant_type=client_credentials');
  t.equal(cc.expires_in, 120, 'client_credentials: the application lifetime');
  const ccClaims = claims(cc.access_token);
  t.equal(ccClaims.exp - ccClaims.iat, 120, 'the JWT says so');
  const ccIntro = await introspected(app, cc.access_token);
  t.equal(ccIntro.exp - ccIntro.iat, 120, 'introspection says so (APIM reads exp - iat)');

  const pw = await token(app, client, PASSWORD);
  t.equal(pw.expires_in, 300, 'password: the user lifetime');
  t.equal(claims(pw.access_token).exp - claims(pw.access_token).iat, 300);
  const refreshRow = await db.query<{ seconds: number }>(
    'SELECT extract(epoch FROM expires_at - issued_at)::int AS seconds FROM refresh_tokens ORDER BY issued_at DESC LIMIT 1',
  );
  t.equal(refreshRow.rows[0]!.seconds, 600, 'the refresh token: the refresh lifetime');

  const refreshed = await token(app, client, `grant_type=refresh_token&refresh_token=${encodeURIComponent(pw.refresh_token!)}`);
  t.equal(refreshed.expires_in, 300, 'refresh_token: the user lifetime, as for the grant it continues');
  const rows = await db.query<{ seconds: number }>(
    'SELECT extract(epoch FROM expires_at - issued_at)::int AS seconds FROM refresh_tokens ORDER BY issued_at DESC, id LIMIT 2',
  );
  t.same(rows.rows.map((row) => row.seconds), [600, 600], 'the rotated refresh token too');
});

t.test('0 is the default, a longer lifetime is capped, opaque tokens alike', async (t) => {
  const { app, db } = await buildTestApp(t, { accessTokenTtlSeconds: ACCESS_TTL, refreshTokenTtlSeconds: REFRESH_TTL });
  const gson = await register(app, { client_name: 'gson_zeros', grant_types: GRANTS, ext_application_token_lifetime: 0, ext_user_token_lifetime: 0, ext_refresh_token_lifetime: 0 });
  t.equal((await token(app, gson, 'grant_type=client_credentials')).expires_in, ACCESS_TTL, '0: the server default');
  t.equal((await token(app, gson, PASSWORD)).expires_in, ACCESS_TTL);

  const greedy = await register(app, { client_name: 'greedy', grant_types: GRANTS, ext_application_token_lifetime: 86_400, ext_user_token_lifetime: 2_000_000, ext_refresh_token_lifetime: 10_000_000 });
  const capped = await token(app, greedy, 'grant_type=client_credentials');
  t.equal(capped.expires_in, ACCESS_TTL, 'capped at DCR_ACCESS_TOKEN_TTL');
  const intro = await introspected(app, capped.access_token);
  t.equal(intro.exp - intro.iat, ACCESS_TTL, 'the stored expiry too (opaque token)');
  await token(app, greedy, PASSWORD);
  const refresh = await db.query<{ seconds: number }>(
    'SELECT extract(epoch FROM expires_at - issued_at)::int AS seconds FROM refresh_tokens ORDER BY issued_at DESC LIMIT 1',
  );
  t.equal(refresh.rows[0]!.seconds, REFRESH_TTL, 'capped at DCR_REFRESH_TOKEN_TTL');

  const read = await app.inject({ method: 'GET', url: `${BASE}/${greedy.client_id}`, headers: { authorization: ADMIN_AUTH } });
  t.match(read.json(), { ext_application_token_lifetime: ACCESS_TTL, ext_user_token_lifetime: ACCESS_TTL, ext_refresh_token_lifetime: REFRESH_TTL }, 'the answer says what applies');
});

t.test('a PUT changes the lifetime of the next token, though the client was remembered', async (t) => {
  const { app } = await buildTestApp(t, { accessTokenTtlSeconds: ACCESS_TTL, refreshTokenTtlSeconds: REFRESH_TTL });
  const client = await register(app, { client_name: 'changing', grant_types: ['client_credentials'], ext_application_token_lifetime: 120 });
  t.equal((await token(app, client, 'grant_type=client_credentials')).expires_in, 120);
  const put = await app.inject({
    method: 'PUT',
    url: `${BASE}/${client.client_id}`,
    headers: { authorization: ADMIN_AUTH, 'content-type': 'application/json' },
    payload: { grant_types: ['client_credentials'], ext_application_token_lifetime: 60, ext_token_type: 'JWT' },
  });
  t.equal(put.statusCode, 200);
  const after = await token(app, client, 'grant_type=client_credentials');
  t.equal(after.expires_in, 60, 'the new lifetime');
  t.match(after.access_token, /^eyJ/, 'and the new token type');
});
