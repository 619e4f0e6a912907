/**
 * Authentication abuse:
 * - failed-login throttling (src/services/login-throttle.ts) with real thresholds: wrong passwords
 *   for one user from one address → 429 + Retry-After + the Error body for that pair only, while
 *   the real user gets in from anywhere else (the lockout scenario, replayed), the super admin
 *   included, under a steady trickle or guesses spread over many addresses; failures from one
 *   address across many names → 429 for that address, except for a user known there; malformed
 *   Basic headers count too; a burst of concurrent guesses cannot get more guesses verified than
 *   the limit; the password grant at /oauth2/token shares the pairs (429, RFC 6749 body); behind a
 *   trusted proxy failures count per client, and a forged X-Forwarded-For gains nothing otherwise;
 * - timing: an unknown user and a wrong password cost the same (production scrypt cost), medians
 *   within 25 %;
 * - tokens of a deleted user, and revoked tokens, stop working at once.
 *
 * `npm test` times 24 logins of each kind; DCR_SOAK=1 (npm run test:soak) times 40 of each.
 */
import { randomBytes } from 'node:crypto';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import t, { type Test } from 'tap';
import { SUPER_TENANT } from '../../src/domain/tenants.js';
import { buildApp } from '../../src/app.js';
import { PasswordHasher } from '../../src/crypto/passwords.js';
import { SecretBox } from '../../src/crypto/secret-box.js';
import { createServices } from '../../src/runtime/composition.js';
import { ADMIN_AUTH, ADMIN_PASSWORD, ISSUER, TEST_SERVICE_CONFIG, basic, buildTestApp, createUser } from '../fixtures/app.js';
import { testDatabase } from '../fixtures/db.js';

const REGISTER = '/client-registration/v0.17/register';
const FORM = 'application/x-www-form-urlencoded';
const THROTTLE = { maxFailures: 5, maxFailuresPerAddress: 20, windowSeconds: 2 };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const SOAK = process.env.DCR_SOAK === '1';
// Each timed login costs one production-cost scrypt hash (≈0.2 s idle, 0.2-0.9 s on a loaded 2-core
// machine): 40 of each kind made this file take over a minute under load. 24 of each, alternated so
// that drifting load hits both series alike, still compare medians (16 gave 19.5 % apart at load
// average 7, too near the 25 % bound); the soak keeps 40.
const TIMING_SAMPLES = SOAK ? 40 : 24;

function register(app: FastifyInstance, authorization: string, clientName: string, owner: string, remoteAddress = '127.0.0.1', grantType = 'password refresh_token') {
  return app.inject({
    method: 'POST',
    url: REGISTER,
    remoteAddress,
    headers: { authorization, 'content-type': 'application/json' },
    payload: { clientName, owner, grantType },
  });
}

function assertThrottled(t: Test, res: LightMyRequestResponse, what: string): void {
  t.equal(res.statusCode, 429, `${what}: 429`);
  const retryAfter = Number(res.headers['retry-after']);
  t.ok(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= THROTTLE.windowSeconds, `${what}: Retry-After ${res.headers['retry-after']}`);
  const body = res.json() as Record<string, unknown>;
  t.strictSame(Object.keys(body).sort(), ['code', 'description', 'error', 'message', 'moreInfo'], `${what}: the Error body`);
  t.match(body, { code: 429, message: 'Too Many Requests', moreInfo: '', error: [] }, `${what}: code 429`);
}

function tokenRequest(app: FastifyInstance, client: { clientId: string; clientSecret: string }, params: Record<string, string>, remoteAddress = '127.0.0.1') {
  return app.inject({
    method: 'POST',
    url: '/oauth2/token',
    remoteAddress,
    headers: { 'content-type': FORM, authorization: basic(client.clientId, client.clientSecret) },
    payload: new URLSearchParams(params).toString(),
  });
}

t.test('failed-login throttling with real thresholds', async (t) => {
  const { app } = await buildTestApp(t, { loginThrottle: THROTTLE });
  for (const name of ['bob', 'carol', 'dave', 'erin', 'frank', 'gina', 'hank']) await createUser(app, name, `${name}-Secret-1`);

  await t.test('wrong passwords for one user from one address: that pair is refused, the real user elsewhere is not', async (t) => {
    const attacker = '10.0.0.1';
    for (let i = 1; i <= THROTTLE.maxFailures; i++) {
      t.equal((await register(app, basic('bob', `wrong-${i}`), 'bob_app', 'bob', attacker)).statusCode, 401, `wrong password ${i}: 401`);
    }
    const started = Date.now();
    assertThrottled(t, await register(app, basic('bob', 'wrong-6'), 'bob_app', 'bob', attacker), "the attacker's next guess");
    assertThrottled(t, await register(app, basic('bob', 'bob-Secret-1'), 'bob_app', 'bob', attacker), 'even the right password, from that address');
    // The lockout scenario: the user's correct password from every other address still works.
    for (const elsewhere of ['10.0.0.2', '10.0.0.3', '192.168.7.7']) {
      t.equal((await register(app, basic('bob', 'bob-Secret-1'), 'bob_app', 'bob', elsewhere)).statusCode, 200, `bob from ${elsewhere}: 200`);
    }
    t.equal((await register(app, basic('carol', 'carol-Secret-1'), 'carol_app', 'carol', attacker)).statusCode, 200, 'another user from the attacker address: 200');
    await sleep(THROTTLE.windowSeconds * 1000 + 200 - (Date.now() - started));
    t.equal((await register(app, basic('bob', 'wrong-7'), 'bob_app', 'bob', attacker)).statusCode, 401, 'after the window the pair is a 401 again: not locked for good');
  });

  await t.test('the super admin cannot be kept out: neither by a steady trickle nor by guesses from many addresses', async (t) => {
    // Two wrong guesses a "minute" (here: per window), window after window, from one address.
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < 2; i++) await register(app, basic('admin', `guess-${round}-${i}`), 'x', 'admin', '10.1.0.1');
      t.equal((await register(app, ADMIN_AUTH, 'admin_app', 'admin', '10.1.0.2')).statusCode, 200, `round ${round + 1}: the admin gets in`);
    }
    // Many addresses, one or two guesses each: no address is over its limits, the name is over its own.
    for (let i = 0; i < 3 * THROTTLE.maxFailures; i++) {
      const res = await register(app, basic('admin', `spread-${i}`), 'x', 'admin', `10.2.${Math.floor(i / 2)}.1`);
      t.equal(res.statusCode, 401, `spread guess ${i + 1}: 401, never 429 (the name is delayed, not refused)`);
    }
    t.equal((await register(app, ADMIN_AUTH, 'admin_app', 'admin', '10.1.9.9')).statusCode, 200, 'the admin from a new address: 200 (after a delay)');
    t.equal((await register(app, ADMIN_AUTH, 'admin_app', 'admin', '10.1.0.2')).statusCode, 200, 'and from an address it logged in from: 200');
  });

  await t.test('password spraying from one address: 429 for that address, except for a user who logged in from it', async (t) => {
    const address = '10.0.1.1';
    t.equal((await register(app, basic('dave', 'dave-Secret-1'), 'dave_app', 'dave', address)).statusCode, 200, 'dave logs in from the shared address first');
    for (let i = 0; i < THROTTLE.maxFailuresPerAddress; i++) {
      // At most maxFailures - 1 per name, so that only the address limit can trip.
      const res = await register(app, basic(`sprayed-${i % 7}-${Math.floor(i / 7)}`, 'Password1'), 'spray', 'admin', address);
      t.equal(res.statusCode, 401, `spray ${i + 1}: 401`);
    }
    assertThrottled(t, await register(app, basic('someone-new', 'Password1'), 'spray', 'admin', address), 'the next name from that address');
    assertThrottled(t, await register(app, basic('gina', 'gina-Secret-1'), 'gina_app', 'gina', address), 'a real user new to that address');
    t.equal((await register(app, basic('dave', 'dave-Secret-1'), 'dave_app', 'dave', address)).statusCode, 200, 'dave, known there: 200');
    t.equal((await register(app, basic('gina', 'gina-Secret-1'), 'gina_app', 'gina', '10.0.1.2')).statusCode, 200, 'gina from another address: 200');
  });

  await t.test('malformed Basic headers count against the address, and are refused like any failure', async (t) => {
    const address = '10.0.4.1';
    const garbage = ['Basic !!!', 'Basic ', 'Basic bm9jb2xvbg==', 'Basic OnBhc3N3b3Jk'];
    for (let i = 0; i < THROTTLE.maxFailuresPerAddress; i++) {
      t.equal((await register(app, garbage[i % garbage.length]!, 'x', 'admin', address)).statusCode, 401, `malformed ${i + 1}: 401`);
    }
    assertThrottled(t, await register(app, 'Basic !!!', 'x', 'admin', address), 'the next malformed header');
    assertThrottled(t, await register(app, basic('hank', 'wrong'), 'x', 'hank', address), 'and a well-formed guess from that address');
  });

  await t.test('a burst of concurrent guesses gets no more verifications than the limit', async (t) => {
    const address = '10.0.2.1';
    const burst = await Promise.all(
      Array.from({ length: 30 }, (_, i) => register(app, basic('erin', `guess-${i}`), 'erin_app', 'erin', address)),
    );
    const statuses = burst.map((res) => res.statusCode);
    const verified = statuses.filter((status) => status === 401).length;
    t.ok(verified <= THROTTLE.maxFailures, `${verified} of 30 concurrent guesses were verified (401), the rest 429 (limit ${THROTTLE.maxFailures})`);
    t.same([...new Set(statuses)].sort(), [401, 429], 'only 401 and 429');
    await sleep(THROTTLE.windowSeconds * 1000 + 200);
    t.equal((await register(app, basic('erin', 'erin-Secret-1'), 'erin_app', 'erin', address)).statusCode, 200, 'after the window: 200');
    const legit = await Promise.all(Array.from({ length: 20 }, () => register(app, basic('erin', 'erin-Secret-1'), 'erin_app', 'erin', address)));
    t.same([...new Set(legit.map((res) => res.statusCode))], [200], '20 concurrent requests of the real (remembered) user: all 200');
    // A real user's burst before the credential is remembered: one check in flight, shared.
    const cold = await Promise.all(Array.from({ length: 20 }, () => register(app, basic('gina', 'gina-Secret-1'), 'gina_app', 'gina', '10.0.2.2')));
    t.same([...new Set(cold.map((res) => res.statusCode))], [200], '20 concurrent requests of a real user: all 200 (not throttled)');
  });

  await t.test('the password grant at /oauth2/token is throttled by the same pairs (RFC 6749 body)', async (t) => {
    const appRes = await register(app, ADMIN_AUTH, 'grant_app', 'admin', '10.0.3.9');
    t.equal(appRes.statusCode, 200);
    const client = appRes.json() as { clientId: string; clientSecret: string };
    const address = '10.0.3.1';
    for (let i = 1; i <= THROTTLE.maxFailures; i++) {
      const res = await tokenRequest(app, client, { grant_type: 'password', username: 'frank', password: `nope-${i}` }, address);
      t.equal(res.statusCode, 400, `wrong password ${i}: 400`);
      t.equal((res.json() as { error: string }).error, 'invalid_grant');
    }
    const res = await tokenRequest(app, client, { grant_type: 'password', username: 'frank', password: 'frank-Secret-1' }, address);
    t.equal(res.statusCode, 429, 'then 429 from that address, even with the right password');
    t.ok(Number(res.headers['retry-after']) >= 1, `Retry-After ${res.headers['retry-after']}`);
    t.equal(res.headers['cache-control'], 'no-store');
    const body = res.json() as Record<string, unknown>;
    t.strictSame(Object.keys(body).sort(), ['error', 'error_description'], 'RFC 6749 §5.2 keys');
    t.match(body.error_description, /Too many failed login attempts/);
    const elsewhere = await tokenRequest(app, client, { grant_type: 'password', username: 'frank', password: 'frank-Secret-1' }, '10.0.3.2');
    t.equal(elsewhere.statusCode, 200, 'the real user from another address gets a token');
    assertThrottled(t, await register(app, basic('frank', 'another-guess'), 'frank_app', 'frank', address), '/register shares the pair: a guess there is 429 too');
    const remembered = await register(app, basic('frank', 'frank-Secret-1'), 'frank_app', 'frank', address);
    t.equal(remembered.statusCode, 200, 'while the credential verified from elsewhere passes, even from that address (no guess: no hash is run)');
  });
});

t.test('behind a proxy: with DCR_TRUST_PROXY failures count per client, without it X-Forwarded-For is ignored', async (t) => {
  const proxy = '10.9.9.9';
  const forwarded = (app: FastifyInstance, authorization: string, client: string) =>
    app.inject({
      method: 'POST',
      url: REGISTER,
      remoteAddress: proxy,
      headers: { authorization, 'content-type': 'application/json', 'x-forwarded-for': client },
      payload: { clientName: 'proxied_app', owner: 'admin', grantType: 'password' },
    });
  const behind = await buildTestApp(t, { loginThrottle: THROTTLE, appOptions: { trustProxy: [proxy] } });
  for (let i = 0; i < THROTTLE.maxFailuresPerAddress; i++) {
    await forwarded(behind.app, basic(`spray-${i}`, 'Password1'), '203.0.113.7');
  }
  assertThrottled(t, await forwarded(behind.app, basic('spray-x', 'Password1'), '203.0.113.7'), 'the spraying client is refused');
  t.equal((await forwarded(behind.app, ADMIN_AUTH, '198.51.100.1')).statusCode, 200, 'another client behind the same proxy is not');

  const direct = await buildTestApp(t, { loginThrottle: THROTTLE });
  for (let i = 0; i < THROTTLE.maxFailuresPerAddress; i++) {
    // A client that forges a new X-Forwarded-For each time gains nothing when no proxy is trusted.
    await forwarded(direct.app, basic(`spray-${i}`, 'Password1'), `203.0.113.${i}`);
  }
  assertThrottled(t, await forwarded(direct.app, basic('spray-x', 'Password1'), '203.0.113.250'), 'forged X-Forwarded-For: still the peer address');
});

t.test('timing: an unknown user costs what a wrong password costs (production scrypt)', async (t) => {
  const { db, appDb } = await testDatabase(t);
  const hasher = new PasswordHasher(); // the production cost
  const services = createServices(TEST_SERVICE_CONFIG, { db: appDb, maintenance: db, secrets: new SecretBox(randomBytes(32)), hasher });
  await services.users.bootstrapAdmin(ADMIN_PASSWORD, undefined);
  await services.keys.ensureKey(SUPER_TENANT.id);
  const app = await buildApp(services, { bodyLimit: 65536, logger: false, docs: false, publicUrl: ISSUER });
  t.teardown(() => app.close());
  await services.users.create(SUPER_TENANT, 'timed-user', 'timed-Secret-1');

  const samples = TIMING_SAMPLES;
  const time = async (authorization: string) => {
    const started = process.hrtime.bigint();
    const res = await register(app, authorization, 'timing_app', 'timed-user');
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    if (res.statusCode !== 401) throw new Error(`expected 401, got ${res.statusCode}`);
    return ms;
  };
  // Warm-up (JIT, pool connections), not measured.
  for (let i = 0; i < 3; i++) {
    await time(basic('timed-user', `warm-${i}`));
    await time(basic(`nobody-warm-${i}`, 'whatever-1'));
  }
  const unknown: number[] = [];
  const wrong: number[] = [];
  for (let i = 0; i < samples; i++) {
    // Alternating, so that drift in machine load hits both series alike.
    if (i % 2 === 0) {
      unknown.push(await time(basic(`nobody-${randomBytes(4).toString('hex')}`, `guess-${i}`)));
      wrong.push(await time(basic('timed-user', `guess-${i}`)));
    } else {
      wrong.push(await time(basic('timed-user', `guess-${i}`)));
      unknown.push(await time(basic(`nobody-${randomBytes(4).toString('hex')}`, `guess-${i}`)));
    }
  }
  const median = (values: number[]) => {
    const sorted = [...values].sort((a, b) => a - b);
    return (sorted[Math.floor((sorted.length - 1) / 2)]! + sorted[Math.ceil((sorted.length - 1) / 2)]!) / 2;
  };
  const mUnknown = median(unknown);
  const mWrong = median(wrong);
  const difference = Math.abs(mUnknown - mWrong) / Math.max(mUnknown, mWrong);
  const figures = {
    samples,
    unknown_median_ms: Math.round(mUnknown * 10) / 10,
    wrong_password_median_ms: Math.round(mWrong * 10) / 10,
    difference_pct: Math.round(difference * 1000) / 10,
    unknown_min_max_ms: [Math.round(Math.min(...unknown)), Math.round(Math.max(...unknown))],
    wrong_min_max_ms: [Math.round(Math.min(...wrong)), Math.round(Math.max(...wrong))],
  };
  t.comment(`timing: ${JSON.stringify(figures)}`);
  t.ok(mWrong > 20, `the KDF runs (wrong password median ${figures.wrong_password_median_ms} ms)`);
  t.ok(difference < 0.25, `medians differ by ${figures.difference_pct} % (< 25 %): unknown ${figures.unknown_median_ms} ms, wrong password ${figures.wrong_password_median_ms} ms`);
});

t.test("tokens of a deleted user, and revoked tokens, stop working at once", async (t) => {
  const { app } = await buildTestApp(t);
  const userId = await createUser(app, 'gone', 'gone-Secret-1');
  await createUser(app, 'stays', 'stays-Secret-1');
  const scope = 'apim:dcr:app_manage';

  for (const tokenType of ['DEFAULT', 'JWT']) {
    const appRes = await app.inject({
      method: 'POST',
      url: REGISTER,
      headers: { authorization: ADMIN_AUTH, 'content-type': 'application/json' },
      payload: { clientName: `kill_${tokenType}`, owner: 'admin', grantType: 'password refresh_token', tokenType },
    });
    t.equal(appRes.statusCode, 200);
    const client = appRes.json() as { clientId: string; clientSecret: string };
    const issue = async (username: string, password: string) => {
      const res = await tokenRequest(app, client, { grant_type: 'password', username, password, scope });
      t.equal(res.statusCode, 200, `${tokenType}: token for ${username}`);
      return res.json() as { access_token: string; refresh_token: string };
    };
    const useBearer = (token: string, owner: string, name: string) =>
      register(app, `Bearer ${token}`, name, owner, '127.0.0.1', 'client_credentials');
    const introspect = async (token: string) => {
      const res = await app.inject({
        method: 'POST',
        url: '/oauth2/introspect',
        headers: { 'content-type': FORM, authorization: basic(client.clientId, client.clientSecret) },
        payload: new URLSearchParams({ token }).toString(),
      });
      return (res.json() as { active: boolean }).active;
    };

    if (tokenType === 'DEFAULT') {
      const token = await issue('gone', 'gone-Secret-1');
      t.equal((await useBearer(token.access_token, 'gone', 'gone_app')).statusCode, 200, 'the token works');
      const deleted = await app.inject({ method: 'DELETE', url: `/scim2/Users/${userId}`, headers: { authorization: ADMIN_AUTH } });
      t.equal(deleted.statusCode, 204, 'the user is deleted');
      t.equal((await useBearer(token.access_token, 'gone', 'gone_app2')).statusCode, 401, 'a deleted user’s access token: 401 at once');
      t.equal(await introspect(token.access_token), false, 'introspection: inactive');
      const refreshed = await tokenRequest(app, client, { grant_type: 'refresh_token', refresh_token: token.refresh_token });
      t.equal(refreshed.statusCode, 400, 'a deleted user’s refresh token: refused');
    }

    const token = await issue('stays', 'stays-Secret-1');
    t.equal((await useBearer(token.access_token, 'stays', `stays_${tokenType}`)).statusCode, 200, `${tokenType}: the token works`);
    const revoked = await app.inject({
      method: 'POST',
      url: '/oauth2/revoke',
      headers: { 'content-type': FORM, authorization: basic(client.clientId, client.clientSecret) },
      payload: new URLSearchParams({ token: token.access_token }).toString(),
    });
    t.equal(revoked.statusCode, 200, `${tokenType}: revoked`);
    t.equal((await useBearer(token.access_token, 'stays', `stays_${tokenType}_2`)).statusCode, 401, `${tokenType}: a revoked access token: 401 at once`);
    t.equal(await introspect(token.access_token), false, `${tokenType}: introspection: inactive`);

    const second = await issue('stays', 'stays-Secret-1');
    const revokeRefresh = await app.inject({
      method: 'POST',
      url: '/oauth2/revoke',
      headers: { 'content-type': FORM, authorization: basic(client.clientId, client.clientSecret) },
      payload: new URLSearchParams({ token: second.refresh_token, token_type_hint: 'refresh_token' }).toString(),
    });
    t.equal(revokeRefresh.statusCode, 200);
    t.equal((await useBearer(second.access_token, 'stays', `stays_${tokenType}_3`)).statusCode, 401, `${tokenType}: revoking the refresh token kills its access token at once`);
    const refreshed = await tokenRequest(app, client, { grant_type: 'refresh_token', refresh_token: second.refresh_token });
    t.equal(refreshed.statusCode, 400, `${tokenType}: the revoked refresh token is refused`);
  }
});
