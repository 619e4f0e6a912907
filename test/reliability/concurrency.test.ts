/**
 * Concurrency on the real server process, over real sockets (node:http keep-alive agents, every
 * request in flight at once), on its own database of the run's shared cluster (DATABASE_URL), so
 * that the rows can be counted directly:
 * - 100 concurrent first registrations of one name by one owner: one row, 100 × 200, one body;
 * - 500 concurrent registrations of distinct names: 500 apps, 500 distinct client ids and rows;
 * - 20 concurrent refreshes of one refresh token: exactly one 200.
 * DCR_SOAK=1 (npm run test:soak) repeats each: 10 same-name races (a new user each), 4 batches of
 * 500, 20 refresh races. Figures go to the TAP output as comments (docs/reliability.md quotes them).
 */
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import t from 'tap';
import { testDatabase } from '../fixtures/db.js';
import { basicAuth, percentiles, registerRequest, request, tally, type Outcome } from '../fixtures/load.js';
import { freePort, startServer, waitExit, waitReady } from '../fixtures/server-process.js';

const SOAK = process.env.DCR_SOAK === '1';
if (SOAK) t.setTimeout(30 * 60_000);
const SAME_NAME_ROUNDS = SOAK ? 10 : 1;
const DISTINCT_BATCHES = SOAK ? 4 : 1;
const REFRESH_ROUNDS = SOAK ? 20 : 3;

const ADMIN_PASSWORD = 'rel-Admin-Pa55';
const ADMIN = basicAuth('admin', ADMIN_PASSWORD);

const { db, url } = await testDatabase(t);
const server = startServer(t, {
  PORT: String(await freePort()),
  HOST: '127.0.0.1',
  DATABASE_URL: url,
  DCR_SECRET_KEY: randomBytes(32).toString('base64'),
  DCR_ADMIN_PASSWORD: ADMIN_PASSWORD,
  LOG_LEVEL: 'warn',
});
await waitReady(server);

/** Fires `count` requests at once, each on its own keep-alive socket. */
async function allAtOnce(count: number, send: (index: number, agent: http.Agent) => Promise<Outcome>): Promise<Outcome[]> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: count });
  try {
    return await Promise.all(Array.from({ length: count }, (_, index) => send(index, agent)));
  } finally {
    agent.destroy();
  }
}

function responses(outcomes: Outcome[]) {
  return outcomes.filter((outcome): outcome is Extract<Outcome, { kind: 'response' }> => outcome.kind === 'response');
}

for (let round = 1; round <= SAME_NAME_ROUNDS; round++) {
  const user = round === 1 ? 'alice' : `alice${round}`;
  const clientName = round === 1 ? 'race_one_name' : `race_one_name_${round}`;
  t.test(`100 concurrent first registrations of one name by the same owner: one app, 100 identical 200s${SOAK ? ` (round ${round})` : ''}`, async (t) => {
    const created = await request(server.baseUrl, {
      method: 'POST',
      path: '/scim2/Users',
      headers: { authorization: ADMIN, 'content-type': 'application/scim+json' },
      body: JSON.stringify({ schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName: user, password: `${user}-Pa55word` }),
    });
    t.equal(created.kind === 'response' && created.status, 201, `${user} is created`);
    const auth = basicAuth(user, `${user}-Pa55word`);

    // The user's first requests ever: the credential is not cached yet either.
    const started = performance.now();
    const outcomes = await allAtOnce(100, (_, agent) => registerRequest(server.baseUrl, auth, clientName, { owner: user, agent }));
    const wallMs = Math.round(performance.now() - started);
    const answered = responses(outcomes);
    t.strictSame(tally(outcomes.map((outcome) => ({ outcome }))), { 200: 100 }, 'all 100 answered 200');
    const bodies = new Set(answered.map((res) => res.body));
    t.equal(bodies.size, 1, 'with byte-identical bodies');
    const body = JSON.parse([...bodies][0]!) as { clientName: string; appOwner: string; clientId: string };
    t.match(body, { clientName, appOwner: user });

    const { rows } = await db.query<{ n: string }>('SELECT count(*) AS n FROM applications WHERE client_name = $1', [clientName]);
    t.equal(Number(rows[0]!.n), 1, 'exactly one row');
    const latency = percentiles(answered.map((res) => res.ms));
    t.comment(
      `figure: 100 concurrent same-name registrations (first login of ${user}): ${JSON.stringify(tally(outcomes.map((outcome) => ({ outcome }))))}, ` +
        `${bodies.size} distinct body, ${rows[0]!.n} row; wall ${wallMs} ms, latency p50 ${latency.p50} / p95 ${latency.p95} / max ${latency.max} ms`,
    );
  });
}

for (let batch = 1; batch <= DISTINCT_BATCHES; batch++) {
  const prefix = batch === 1 ? 'race_distinct_' : `race_distinct${batch}_`;
  t.test(`500 concurrent registrations of distinct names: 500 distinct apps${SOAK ? ` (batch ${batch})` : ''}`, async (t) => {
    const before = performance.now();
    const outcomes = await allAtOnce(500, (index, agent) => registerRequest(server.baseUrl, ADMIN, `${prefix}${index}`, { agent }));
    const wallMs = Math.round(performance.now() - before);
    const answered = responses(outcomes);
    const counts = tally(outcomes.map((outcome) => ({ outcome })));
    t.strictSame(counts, { 200: 500 }, 'all 500 answered 200');
    const apps = answered.map((res) => JSON.parse(res.body) as { clientId: string; clientSecret: string; clientName: string; applicationUUID: string });
    t.equal(new Set(apps.map((app) => app.clientId)).size, 500, '500 distinct clientIds');
    t.equal(new Set(apps.map((app) => app.clientSecret)).size, 500, '500 distinct clientSecrets');
    t.equal(new Set(apps.map((app) => app.applicationUUID)).size, 500, '500 distinct applicationUUIDs');
    t.strictSame(
      apps.map((app) => app.clientName),
      Array.from({ length: 500 }, (_, index) => `${prefix}${index}`),
      'each answer names the app asked for',
    );
    const { rows } = await db.query<{ n: string; ids: string }>(
      "SELECT count(*) AS n, count(DISTINCT client_id) AS ids FROM applications WHERE starts_with(client_name, $1)",
      [prefix],
    );
    t.strictSame({ rows: Number(rows[0]!.n), ids: Number(rows[0]!.ids) }, { rows: 500, ids: 500 }, '500 rows, 500 distinct client ids');
    const latency = percentiles(answered.map((res) => res.ms));
    t.comment(
      `figure: 500 concurrent distinct registrations: ${JSON.stringify(counts)}, ${new Set(apps.map((app) => app.clientId)).size} distinct clientIds, ${rows[0]!.n} rows; ` +
        `wall ${wallMs} ms (${Math.round((500 * 1000) / wallMs)} req/s), latency p50 ${latency.p50} / p95 ${latency.p95} / max ${latency.max} ms`,
    );
  });
}

t.test('20 concurrent refreshes of one refresh token: exactly one 200', async (t) => {
  const registered = await registerRequest(server.baseUrl, ADMIN, 'race_refresh_app', { grantType: 'password refresh_token' });
  if (registered.kind !== 'response' || registered.status !== 200) throw new Error(`register: ${JSON.stringify(registered)}`);
  const client = JSON.parse(registered.body) as { clientId: string; clientSecret: string; tokenType: string };
  t.equal(client.tokenType, 'DEFAULT', 'an app with opaque (non-JWT) tokens');
  const clientAuth = basicAuth(client.clientId, client.clientSecret);
  const token = (form: Record<string, string>, agent?: http.Agent) =>
    request(server.baseUrl, {
      method: 'POST',
      path: '/oauth2/token',
      headers: { authorization: clientAuth, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(form).toString(),
      agent,
    });

  const passwordGrant = async () => {
    const granted = await token({ grant_type: 'password', username: 'admin', password: ADMIN_PASSWORD });
    if (granted.kind !== 'response' || granted.status !== 200) throw new Error(`password grant: ${JSON.stringify(granted)}`);
    const refreshToken = (JSON.parse(granted.body) as { refresh_token?: string }).refresh_token;
    if (!refreshToken) throw new Error('no refresh token');
    return refreshToken;
  };

  let rounds = 0;
  for (let round = 1; round <= REFRESH_ROUNDS; round++) {
    // A fresh grant each round: the previous round's replays revoked its whole family.
    const fresh = await passwordGrant();
    const outcomes = await allAtOnce(20, (_, agent) => token({ grant_type: 'refresh_token', refresh_token: fresh }, agent));
    const answered = responses(outcomes);
    t.equal(answered.length, 20, `round ${round}: 20 answers`);
    const ok = answered.filter((res) => res.status === 200);
    t.equal(ok.length, 1, `round ${round}: exactly one 200`);
    const others = answered.filter((res) => res.status !== 200);
    t.ok(
      others.every((res) => res.status === 400 && (JSON.parse(res.body) as { error: string }).error === 'invalid_grant'),
      `round ${round}: the other 19 are 400 invalid_grant (${JSON.stringify(tally(outcomes.map((outcome) => ({ outcome }))))})`,
    );
    const { rows } = await db.query<{ n: string }>(
      "SELECT count(*) AS n FROM refresh_tokens WHERE token_hash = sha256(convert_to($1, 'UTF8')) AND used_at IS NOT NULL",
      [fresh],
    );
    t.equal(Number(rows[0]!.n), 1, `round ${round}: the token is marked used once`);
    rounds++;
  }
  t.comment(`figure: ${rounds} rounds of 20 concurrent refreshes of one refresh token: exactly 1 × 200 and 19 × 400 invalid_grant each`);
});

t.test('the server stops cleanly afterwards', async (t) => {
  server.child.kill('SIGTERM');
  const exit = await waitExit(server, 15_000);
  t.strictSame({ code: exit.code, signal: exit.signal }, { code: 0, signal: null }, `exit 0 (${exit.ms} ms)`);
  t.notMatch(server.stdout(), /"level":(50|60)/, 'no error was logged');
});

