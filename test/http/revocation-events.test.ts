/**
 * Revocation events pushed to WSO2 API Manager (issue 22), over a real migrated database and a
 * local receiver (test/fixtures/notify-receiver.ts) standing in for APIM's notify endpoint:
 * - every revocation's event, in WSO2's shape, with the headers and Basic credentials: token
 *   revocation (/oauth2/revoke, refresh rotation, reuse detection, a revoked refresh token), an
 *   app deleted or given a new secret (but not re-sealed under a new secret key), a user deleted
 *   (with their apps) or given a new password; opaque tokens announce nothing;
 * - the event row commits with the revocation or not at all;
 * - a receiver down, then up: the same eventId on every attempt, delivered once it is back, the
 *   health detail DELAYED meanwhile, the metrics; order per consumer key kept while another key
 *   flows; a final 4xx drops the event; the size bound drops the oldest;
 * - without DCR_APIM_NOTIFY_URL nothing is queued at all;
 * - log lines carry no token material and no password.
 */
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { decodeJwt } from 'jose';
import t, { type Test } from 'tap';
import { SUPER_TENANT } from '../../src/domain/tenants.js';
import type { ApimNotifyConfig } from '../../src/config/config.js';
import { SecretBox } from '../../src/crypto/secret-box.js';
import { PgSealedSecretRepository } from '../../src/repositories/sealed-secrets.js';
import { reencryptAll } from '../../src/services/secret-rotation.js';
import type { DispatcherLog, RevocationDispatcher } from '../../src/services/revocation-dispatcher.js';
import { ADMIN_AUTH, basic, buildTestApp, createUser } from '../fixtures/app.js';
import { NOTIFY_PATH, NotifyReceiver, until } from '../fixtures/notify-receiver.js';

const REGISTER = '/client-registration/v0.17/register';
const FORM = 'application/x-www-form-urlencoded';
const ALICE_PW = 'alice-Pa55word';
const NOTIFY_USER = 'apim-notify';
const NOTIFY_PASSWORD = 'n0tify-Secret-Pa55';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

interface Client {
  clientId: string;
  clientSecret: string;
}

interface TokenBody {
  access_token: string;
  refresh_token?: string;
}

function notifyConfig(urls: string[], overrides: Partial<ApimNotifyConfig> = {}): ApimNotifyConfig {
  return {
    urls,
    credentials: { user: NOTIFY_USER, password: NOTIFY_PASSWORD },
    batchSize: 100,
    pollIntervalMs: 50,
    timeoutMs: 2_000,
    retryMaxDelayMs: 200,
    maxEvents: 100_000,
    staleAfterSeconds: 60,
    ...overrides,
  };
}

/** Every line the dispatcher logged, as JSON text (to look for what must never be there). */
function recordingLog(): DispatcherLog & { lines: string[] } {
  const lines: string[] = [];
  const record = (level: string) => (obj: object, msg: string) => {
    lines.push(JSON.stringify({ level, ...obj, msg }, (_key, value: unknown) => (value instanceof Error ? { name: value.name, message: value.message } : value)));
  };
  return { lines, info: record('info'), warn: record('warn'), error: record('error') };
}

async function registerApp(app: FastifyInstance, payload: Record<string, unknown>): Promise<Client> {
  const res = await app.inject({ method: 'POST', url: REGISTER, headers: { authorization: ADMIN_AUTH }, payload });
  if (res.statusCode !== 200) throw new Error(`register: ${res.statusCode} ${res.body}`);
  return res.json() as Client;
}

function formPost(app: FastifyInstance, url: string, client: Client, params: Record<string, string>): Promise<LightMyRequestResponse> {
  return app.inject({
    method: 'POST',
    url,
    headers: { 'content-type': FORM, authorization: basic(client.clientId, client.clientSecret) },
    payload: new URLSearchParams(params).toString(),
  });
}

async function token(app: FastifyInstance, client: Client, params: Record<string, string>): Promise<TokenBody> {
  const res = await formPost(app, '/oauth2/token', client, params);
  if (res.statusCode !== 200) throw new Error(`token: ${res.statusCode} ${res.body}`);
  return res.json() as TokenBody;
}

const passwordToken = (app: FastifyInstance, client: Client) => token(app, client, { grant_type: 'password', username: 'alice', password: ALICE_PW });

async function revoke(app: FastifyInstance, client: Client, value: string): Promise<void> {
  const res = await formPost(app, '/oauth2/revoke', client, { token: value });
  if (res.statusCode !== 200) throw new Error(`revoke: ${res.statusCode} ${res.body}`);
}

async function active(app: FastifyInstance, client: Client, value: string): Promise<boolean> {
  const res = await formPost(app, '/oauth2/introspect', client, { token: value });
  return (res.json() as { active: boolean }).active;
}

interface Setup {
  app: FastifyInstance;
  db: Awaited<ReturnType<typeof buildTestApp>>['db'];
  secrets: SecretBox;
  dispatcher: RevocationDispatcher;
  receiver: NotifyReceiver;
  log: ReturnType<typeof recordingLog>;
  jwtApp: Client;
  opaqueApp: Client;
}

async function setUp(t: Test, overrides: Partial<ApimNotifyConfig> = {}, receivers?: NotifyReceiver[]): Promise<Setup> {
  const receiver = receivers?.[0] ?? (await NotifyReceiver.start());
  t.teardown(() => receiver.stop());
  const urls = (receivers ?? [receiver]).map((r) => r.url);
  const { app, db, secrets, services } = await buildTestApp(t, { apimNotify: notifyConfig(urls, overrides) });
  const dispatcher = services.revocationEvents!;
  const log = recordingLog();
  await dispatcher.start(log);
  t.teardown(() => dispatcher.stop());
  await createUser(app, 'alice', ALICE_PW);
  const jwtApp = await registerApp(app, { clientName: 'jwt_app', owner: 'alice', grantType: 'password refresh_token client_credentials', tokenType: 'JWT' });
  const opaqueApp = await registerApp(app, { clientName: 'opaque_app', owner: 'alice', grantType: 'password refresh_token client_credentials' });
  return { app, db, secrets, dispatcher, receiver, log, jwtApp, opaqueApp };
}

const outboxCount = async (db: Setup['db']) => Number((await db.query<{ n: string }>('SELECT count(*) AS n FROM revocation_outbox')).rows[0]!.n);

t.test('revocation events, in WSO2 shapes, with headers and credentials', async (t) => {
  const s = await setUp(t);
  const { app, receiver, jwtApp, opaqueApp } = s;

  t.test('token_revocation on /oauth2/revoke: accessToken is the jti', async (t) => {
    const before = receiver.received.length;
    const issued = await passwordToken(app, jwtApp);
    const claims = decodeJwt(issued.access_token);
    const started = Date.now();
    await revoke(app, jwtApp, issued.access_token);
    t.ok(await until(() => receiver.received.length > before), 'the receiver got a request');
    const request = receiver.received[before]!;
    t.equal(request.method, 'POST');
    t.equal(request.path, NOTIFY_PATH);
    t.equal(request.headers['content-type'], 'application/json');
    t.equal(request.headers['x-wso2-key-manager'], 'WSO2-IS');
    t.equal(request.headers.authorization, basic(NOTIFY_USER, NOTIFY_PASSWORD), 'Basic credentials of DCR_APIM_NOTIFY_USER/PASSWORD');
    const event = request.body;
    t.strictSame(Object.keys(event), ['eventId', 'timeStamp', 'type', 'tenantId', 'tenantDomain', 'accessToken', 'expiryTime', 'user', 'consumerKey', 'tokenType'], "IS's fields, in its order");
    t.match(event.eventId, UUID);
    t.match(event, {
      type: 'token_revocation',
      tenantId: -1234,
      tenantDomain: 'carbon.super',
      accessToken: claims.jti,
      expiryTime: claims.exp! * 1000,
      user: 'alice',
      consumerKey: jwtApp.clientId,
      tokenType: 'JWT',
    });
    t.ok(Math.abs((event.timeStamp as number) - started) < 5_000, 'timeStamp in ms, the revocation instant');
    t.notOk(request.text.includes(issued.access_token), 'the token itself is never sent');
    // The receiver answers before the dispatcher's DELETE commits: the row goes a moment after.
    t.ok(await until(async () => (await outboxCount(s.db)) === 0), 'delivered: the row is gone');
    t.equal(receiver.received.length, before + 1, 'exactly one request');
  });

  t.test('opaque tokens announce nothing (their revocation is checked here, on every use)', async (t) => {
    const before = receiver.received.length;
    const issued = await passwordToken(app, opaqueApp);
    await revoke(app, opaqueApp, issued.access_token);
    const rotated = await token(app, opaqueApp, { grant_type: 'refresh_token', refresh_token: issued.refresh_token! });
    await revoke(app, opaqueApp, rotated.refresh_token!);
    t.equal(await outboxCount(s.db), 0, 'nothing queued');
    await new Promise((resolve) => setTimeout(resolve, 200));
    t.equal(receiver.received.length, before);
  });

  t.test('refresh rotation revokes the old access token, and announces it', async (t) => {
    const before = receiver.received.length;
    const first = await passwordToken(app, jwtApp);
    const second = await token(app, jwtApp, { grant_type: 'refresh_token', refresh_token: first.refresh_token! });
    t.equal(await active(app, jwtApp, first.access_token), false, 'the old access token is revoked here');
    t.equal(await active(app, jwtApp, second.access_token), true, 'the new one works');
    t.ok(await until(() => receiver.received.length > before));
    t.match(receiver.received[before]!.body, { type: 'token_revocation', accessToken: decodeJwt(first.access_token).jti });
    await new Promise((resolve) => setTimeout(resolve, 150));
    t.equal(receiver.received.length, before + 1, 'only the old one');
  });

  t.test('reuse of a refresh token: the whole family, each token once', async (t) => {
    const first = await passwordToken(app, jwtApp);
    const second = await token(app, jwtApp, { grant_type: 'refresh_token', refresh_token: first.refresh_token! });
    await until(() => receiver.events().some((e) => e.accessToken === decodeJwt(first.access_token).jti));
    const before = receiver.received.length;
    // The replay of the used refresh token revokes the family: second's access token.
    const replay = await formPost(app, '/oauth2/token', jwtApp, { grant_type: 'refresh_token', refresh_token: first.refresh_token! });
    t.equal(replay.statusCode, 400);
    t.equal(await active(app, jwtApp, second.access_token), false);
    t.ok(await until(() => receiver.received.length > before));
    t.match(receiver.received[before]!.body, { type: 'token_revocation', accessToken: decodeJwt(second.access_token).jti });
  });

  t.test('revoking a refresh token announces the access tokens of its grant', async (t) => {
    const issued = await passwordToken(app, jwtApp);
    const before = receiver.received.length;
    await revoke(app, jwtApp, issued.refresh_token!);
    t.ok(await until(() => receiver.received.length > before));
    t.match(receiver.received[before]!.body, { type: 'token_revocation', accessToken: decodeJwt(issued.access_token).jti });
  });

  t.test('consumer_app_revocation_event: a new secret, and a deleted app; not a re-sealed secret', async (t) => {
    const doomed = await registerApp(app, { clientName: 'doomed_app', owner: 'alice', grantType: 'client_credentials' });
    let before = receiver.received.length;
    // A secret regenerated (as a regeneration route would write it): a new envelope.
    await s.db.query("UPDATE applications SET client_secret_enc = $2 WHERE client_id = $1", [doomed.clientId, s.secrets.seal('n3w-secret', doomed.clientId)]);
    t.ok(await until(() => receiver.received.length > before));
    const event = receiver.received[before]!.body;
    t.strictSame(Object.keys(event), ['eventId', 'timeStamp', 'type', 'tenantId', 'tenantDomain', 'consumerKey', 'revocationTime']);
    t.match(event, { type: 'consumer_app_revocation_event', tenantId: -1234, tenantDomain: 'carbon.super', consumerKey: doomed.clientId });
    t.equal(event.revocationTime, event.timeStamp, 'revocationTime in ms, the instant of the change');

    // `dcr secrets reencrypt` under a new key: the same secrets, no event.
    before = receiver.received.length;
    // The test app's key (buildTestApp makes a random one), now the previous key of a new keyring.
    const oldKey = [...(s.secrets as unknown as { keys: Map<string, Buffer> }).keys.values()][0]!;
    const rotated = new SecretBox(Buffer.alloc(32, 7), [oldKey]);
    const result = await reencryptAll(new PgSealedSecretRepository(s.db), rotated);
    t.ok(result.resealed.applications >= 3, 're-sealed every app');
    await new Promise((resolve) => setTimeout(resolve, 200));
    t.equal(receiver.received.length, before, 'no event for re-sealing');

    await s.db.query('DELETE FROM applications WHERE client_id = $1', [doomed.clientId]);
    t.ok(await until(() => receiver.received.length > before));
    t.match(receiver.received[before]!.body, { type: 'consumer_app_revocation_event', consumerKey: doomed.clientId });
  });

  t.test('IS DCR v1.1: Remove keys (DELETE) announces the app to the gateway', async (t) => {
    const created = await app.inject({
      method: 'POST',
      url: '/api/identity/oauth2/dcr/v1.1/register',
      headers: { authorization: ADMIN_AUTH, 'content-type': 'application/json' },
      payload: { client_name: 'admin_removed_keys_PRODUCTION', grant_types: ['client_credentials'], token_type_extension: 'JWT' },
    });
    t.equal(created.statusCode, 201, created.body);
    const clientId = (created.json() as { client_id: string }).client_id;
    const before = receiver.received.length;
    const removed = await app.inject({
      method: 'DELETE',
      url: `/api/identity/oauth2/dcr/v1.1/register/${clientId}`,
      headers: { authorization: ADMIN_AUTH, 'content-type': 'application/json' },
    });
    t.equal(removed.statusCode, 204, removed.body);
    t.ok(await until(() => receiver.received.length > before));
    t.match(receiver.received[before]!.body, { type: 'consumer_app_revocation_event', tenantId: -1234, tenantDomain: 'carbon.super', consumerKey: clientId });
  });

  t.test('subject_entity_revocation_event: a new password; a deleted user, with their apps', async (t) => {
    const bobId = await createUser(app, 'bob', 'bob-Pa55word');
    const bobApp = await registerApp(app, { clientName: 'bob_app', owner: 'bob', grantType: 'client_credentials', tokenType: 'JWT' });
    let before = receiver.received.length;
    await (await buildUsers(s)).changePassword(SUPER_TENANT, 'bob', 'bob-N3w-Pa55word');
    t.ok(await until(() => receiver.received.length > before));
    const event = receiver.received[before]!.body;
    t.strictSame(Object.keys(event), ['eventId', 'timeStamp', 'type', 'tenantId', 'tenantDomain', 'entityId', 'entityType', 'revocationTime']);
    t.match(event, { type: 'subject_entity_revocation_event', entityId: 'bob', entityType: 'USER_ID', tenantId: -1234, tenantDomain: 'carbon.super' });

    before = receiver.received.length;
    const res = await app.inject({ method: 'DELETE', url: `/scim2/Users/${bobId}`, headers: { authorization: ADMIN_AUTH } });
    t.equal(res.statusCode, 204);
    t.ok(await until(() => receiver.received.length >= before + 2), 'two events');
    const got = receiver.received.slice(before).map((r) => r.body);
    t.same(
      got.map((e) => [e.type, e.entityId ?? e.consumerKey]).sort(),
      [
        ['consumer_app_revocation_event', bobApp.clientId],
        ['subject_entity_revocation_event', 'bob'],
      ],
      'the user, and the app that went with them',
    );
  });

  t.test('the health detail and the metrics', async (t) => {
    // The last delivery's rows are deleted when its transaction commits, after the receiver answered.
    t.ok(await until(async () => (await outboxCount(s.db)) === 0), 'every event delivered');
    await s.dispatcher.maintain();
    const health = await app.inject({ method: 'GET', url: '/health/ready' });
    t.equal(health.statusCode, 200);
    t.strictSame(health.json(), { status: 'UP', checks: { database: 'UP', migrations: 'UP' }, revocationEvents: { status: 'UP', pending: 0, oldestAgeSeconds: 0 } });
    const metrics = (await app.inject({ method: 'GET', url: '/metrics' })).body;
    const label = `url="http://127.0.0.1:${receiver.port}${NOTIFY_PATH}"`;
    t.match(metrics, new RegExp(`dcr_revocation_deliveries_total\\{${label},outcome="delivered"\\} [1-9]`));
    t.match(metrics, new RegExp(`dcr_revocation_events_pending\\{${label}\\} 0`));
    t.match(metrics, new RegExp(`dcr_revocation_events_oldest_age_seconds\\{${label}\\} 0`));
  });

  t.test('no token material and no password in the log lines', async (t) => {
    const text = s.log.lines.join('\n');
    t.notMatch(text, NOTIFY_PASSWORD);
    t.notMatch(text, /eyJ[A-Za-z0-9_-]+\./, 'no JWT');
    for (const event of receiver.events()) if (typeof event.accessToken === 'string') t.notOk(text.includes(event.accessToken), 'no jti');
  });
});

/** The user service of an app's composition (its password changes go through the repository, as `dcr user passwd`). */
async function buildUsers(s: Setup) {
  const { UserService } = await import('../../src/services/users.js');
  const { PgUserRepository } = await import('../../src/repositories/users.js');
  const { FAST_HASHER } = await import('../fixtures/app.js');
  return new UserService(new PgUserRepository(s.db), FAST_HASHER, 'admin');
}

t.test('a receiver down, then up: the same eventId every attempt, delivered once back', async (t) => {
  const receiver = await NotifyReceiver.start();
  const s = await setUp(t, { staleAfterSeconds: 1, retryMaxDelayMs: 300 }, [receiver]);
  const { app, jwtApp } = s;
  // Down: answers 503, then the port closes altogether.
  receiver.fallback = 503;
  const issued = await passwordToken(app, jwtApp);
  await revoke(app, jwtApp, issued.access_token);
  t.ok(await until(() => receiver.received.length >= 2), 'retried after a 503');
  await receiver.stop();
  const attemptsWhileUp = receiver.received.length;
  await new Promise((resolve) => setTimeout(resolve, 1_500));
  await s.dispatcher.maintain();
  const health = await app.inject({ method: 'GET', url: '/health/ready' });
  t.equal(health.statusCode, 200, 'still ready');
  t.match(health.json(), { revocationEvents: { status: 'DELAYED', pending: 1 } });
  t.ok((health.json() as { revocationEvents: { oldestAgeSeconds: number } }).revocationEvents.oldestAgeSeconds >= 1);
  const metrics = (await app.inject({ method: 'GET', url: '/metrics' })).body;
  t.match(metrics, /dcr_revocation_deliveries_total\{url="[^"]+",outcome="failed"\} [1-9]/);
  t.match(metrics, /dcr_revocation_events_pending\{url="[^"]+"\} 1/);

  receiver.fallback = 200;
  await receiver.listen();
  t.ok(await until(() => receiver.received.length > attemptsWhileUp && receiver.received.at(-1)!.body.accessToken !== undefined, 10_000), 'delivered once back');
  await until(async () => (await outboxCount(s.db)) === 0);
  t.equal(await outboxCount(s.db), 0, 'and only then deleted');
  t.equal(receiver.eventIds().size, 1, `the same eventId on all ${receiver.received.length} attempts`);
  t.ok(receiver.received.every((r) => r.text === receiver.received[0]!.text), 'the same bytes every attempt');
  await s.dispatcher.maintain();
  t.match((await app.inject({ method: 'GET', url: '/health/ready' })).json(), { revocationEvents: { status: 'UP', pending: 0 } });
  t.match(s.log.lines.join('\n'), /"error":"ECONNREFUSED"/, 'a refused connection is logged by its code');
});

t.test('order per consumer key; one URL down does not hold another', async (t) => {
  const a = await NotifyReceiver.start();
  const b = await NotifyReceiver.start();
  const s = await setUp(t, { retryMaxDelayMs: 200 }, [a, b]);
  t.teardown(() => b.stop());
  const { app, jwtApp } = s;
  const otherApp = await registerApp(app, { clientName: 'other_jwt_app', owner: 'alice', grantType: 'password refresh_token', tokenType: 'JWT' });
  // URL a refuses t1's first two attempts; b takes everything at once.
  const t1 = await passwordToken(app, jwtApp);
  const t2 = await passwordToken(app, jwtApp);
  const t3 = await passwordToken(app, otherApp);
  let t1Failures = 0;
  a.decide = (body) => (body.accessToken === decodeJwt(t1.access_token).jti && t1Failures++ < 2 ? 503 : undefined);
  await revoke(app, jwtApp, t1.access_token);
  await revoke(app, jwtApp, t2.access_token);
  await revoke(app, otherApp, t3.access_token);
  t.ok(await until(() => b.received.length === 3), 'b got all three while a was failing');
  t.ok(await until(() => a.received.length === 5), 'a got them all in the end (t1 after two failures)');
  const jti = (value: string) => decodeJwt(value).jti;
  const sequence = a.events().map((e) => e.accessToken);
  const firstOf = (value: string) => sequence.indexOf(jti(value));
  t.ok(firstOf(t1.access_token) < firstOf(t2.access_token), `t2 never went to a before t1 was delivered (${JSON.stringify(sequence.map((x) => [jti(t1.access_token), jti(t2.access_token), jti(t3.access_token)].indexOf(x as string) + 1))})`);
  t.equal(sequence.filter((x) => x === jti(t2.access_token)).length, 1, 't2 sent to a once');
  t.equal(sequence.filter((x) => x === jti(t1.access_token)).length, 3, 't1: two failures, then delivered');
  const atB = b.events().map((e) => e.accessToken);
  t.same([...atB].sort(), [jti(t1.access_token), jti(t2.access_token), jti(t3.access_token)].sort(), 'b: each once');
  t.ok(atB.indexOf(jti(t1.access_token)) < atB.indexOf(jti(t2.access_token)), "b: the key's order");
  const t1Ids = a.events().filter((e) => e.accessToken === jti(t1.access_token)).map((e) => e.eventId);
  t.equal(new Set(t1Ids).size, 1, 'one eventId for all attempts');
  t.equal(b.events()[0]!.eventId, t1Ids[0], 'and the same one at both URLs');
});

t.test('a final 4xx drops the event; the size bound drops the oldest', async (t) => {
  const receiver = await NotifyReceiver.start();
  const s = await setUp(t, { maxEvents: 2 }, [receiver]);
  const { app, jwtApp } = s;
  receiver.answers = [400];
  const rejected = await passwordToken(app, jwtApp);
  await revoke(app, jwtApp, rejected.access_token);
  t.ok(await until(async () => receiver.received.length === 1 && (await outboxCount(s.db)) === 0), 'sent once, then dropped');
  await new Promise((resolve) => setTimeout(resolve, 200));
  t.equal(receiver.received.length, 1, 'not retried');
  t.match((await app.inject({ method: 'GET', url: '/metrics' })).body, /dcr_revocation_events_dropped_total\{url="[^"]+",reason="rejected"\} 1/);
  t.match(s.log.lines.join('\n'), /"status":400.*refused a revocation event for good/);

  await receiver.stop();
  const tokens = [];
  for (let i = 0; i < 4; i++) tokens.push(await passwordToken(app, jwtApp));
  for (const issued of tokens) await revoke(app, jwtApp, issued.access_token);
  await until(async () => (await outboxCount(s.db)) === 4);
  // A delivery attempt to the stopped receiver may hold the rows locked while maintain() runs; the
  // trim skips locked rows and takes them on a later pass.
  t.ok(
    await until(async () => {
      await s.dispatcher.maintain();
      return (await outboxCount(s.db)) === 2;
    }),
    'trimmed to DCR_APIM_NOTIFY_MAX_EVENTS',
  );
  const left = await s.db.query<{ token_id: string }>('SELECT token_id FROM revocation_outbox ORDER BY id');
  t.strictSame(
    left.rows.map((row) => row.token_id),
    tokens.slice(2).map((issued) => decodeJwt(issued.access_token).jti),
    'the two newest kept',
  );
  t.match((await app.inject({ method: 'GET', url: '/metrics' })).body, /dcr_revocation_events_dropped_total\{url="[^"]+",reason="overflow"\} 2/);
  t.match(s.log.lines.join('\n'), /DCR_APIM_NOTIFY_MAX_EVENTS/);
});

t.test('the event commits with the revocation, or not at all', async (t) => {
  const receiver = await NotifyReceiver.start();
  const s = await setUp(t, {}, [receiver]);
  await s.dispatcher.stop();
  const issued = await passwordToken(s.app, s.jwtApp);
  const jti = decodeJwt(issued.access_token).jti!;
  // A revocation whose transaction rolls back leaves neither the revocation nor its event.
  const client = await s.db.connect();
  try {
    await client.query('BEGIN');
    await client.query('DELETE FROM applications WHERE client_id = $1', [s.opaqueApp.clientId]);
    t.equal(Number((await client.query('SELECT count(*) AS n FROM revocation_outbox')).rows[0].n), 1, 'queued inside the transaction');
    await client.query('ROLLBACK');
  } finally {
    client.release();
  }
  t.equal(await outboxCount(s.db), 0, 'rolled back with it');
  await revoke(s.app, s.jwtApp, issued.access_token);
  const rows = await s.db.query<{ token_id: string; revoked: boolean }>(
    'SELECT o.token_id, a.revoked_at IS NOT NULL AS revoked FROM revocation_outbox o JOIN access_tokens a ON a.id = o.token_id',
  );
  t.strictSame(rows.rows, [{ token_id: jti, revoked: true }], 'committed together');
});

t.test('without DCR_APIM_NOTIFY_URL nothing is queued', async (t) => {
  const { app, db } = await buildTestApp(t);
  // A database a notify URL was once configured for: a server without one empties the list.
  await db.query("INSERT INTO revocation_targets (url) VALUES ('http://127.0.0.1:1/internal/data/v1/notify')");
  const { stopQueueingRevocationEvents } = await import('../../src/runtime/composition.js');
  const warnings: string[] = [];
  await db.query("INSERT INTO revocation_outbox (event_id, target, kind, order_key) VALUES (gen_random_uuid(), 'http://127.0.0.1:1/internal/data/v1/notify', 'subject', 'subject:x')");
  await stopQueueingRevocationEvents(db, { warn: (_obj, msg) => warnings.push(msg) });
  t.match(warnings, [/DCR_APIM_NOTIFY_URL is unset/]);
  await createUser(app, 'alice', ALICE_PW);
  const jwtApp = await registerApp(app, { clientName: 'jwt_app', owner: 'alice', grantType: 'password refresh_token', tokenType: 'JWT' });
  const issued = await passwordToken(app, jwtApp);
  await token(app, jwtApp, { grant_type: 'refresh_token', refresh_token: issued.refresh_token! });
  await revoke(app, jwtApp, (await passwordToken(app, jwtApp)).access_token);
  await db.query('DELETE FROM applications WHERE client_id = $1', [jwtApp.clientId]);
  t.equal(await outboxCount(db), 0, 'no row, for any kind of revocation');
  const health = await app.inject({ method: 'GET', url: '/health/ready' });
  t.strictSame(health.json(), { status: 'UP', checks: { database: 'UP', migrations: 'UP' } }, 'no detail');
  t.notMatch((await app.inject({ method: 'GET', url: '/metrics' })).body, /dcr_revocation_events_pending/);
});
