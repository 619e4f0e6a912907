/**
 * Revocation events across process deaths and instances, with the real server (dist/server.js)
 * and a local notify receiver (test/fixtures/notify-receiver.ts):
 * - SIGKILL between commit and delivery: an event whose POST the receiver took but never
 *   answered, and an event committed while the receiver was down, are both delivered after the
 *   restart, with their eventIds;
 * - two instances over one database deliver every event with exactly one 2xx, no duplicate
 *   beyond the attempts the receiver failed, and each consumer key's events in commit order.
 */
import { randomBytes } from 'node:crypto';
import { decodeJwt } from 'jose';
import t from 'tap';
import { testDatabase } from '../fixtures/db.js';
import { NotifyReceiver, until } from '../fixtures/notify-receiver.js';
import {
  basicAuth,
  E2E_ADMIN,
  E2E_ADMIN_PASSWORD,
  freePort,
  freshDataDir,
  killGroup,
  register,
  startReady,
  startServer,
  waitExit,
  waitReady,
  type ServerProcess,
} from '../fixtures/server-process.js';

const FORM = 'application/x-www-form-urlencoded';

interface Client {
  clientId: string;
  clientSecret: string;
}

async function form(server: ServerProcess, route: string, client: Client, params: Record<string, string>) {
  const res = await fetch(`${server.baseUrl}${route}`, {
    method: 'POST',
    headers: { 'content-type': FORM, authorization: basicAuth(client.clientId, client.clientSecret) },
    body: new URLSearchParams(params).toString(),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : {}) as Record<string, string> };
}

async function jwtApp(server: ServerProcess, name: string): Promise<Client> {
  const res = await register(server, E2E_ADMIN, { clientName: name, owner: 'admin', grantType: 'password refresh_token client_credentials', tokenType: 'JWT' });
  if (res.status !== 200) throw new Error(`register: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body as unknown as Client;
}

/** A client_credentials JWT (acting for the admin, the owner) revoked through `server`; its jti. */
async function revokeOne(server: ServerProcess, client: Client): Promise<string> {
  const issued = await form(server, '/oauth2/token', client, { grant_type: 'client_credentials' });
  if (issued.status !== 200) throw new Error(`token: ${issued.status} ${JSON.stringify(issued.body)}`);
  const revoked = await form(server, '/oauth2/revoke', client, { token: issued.body.access_token! });
  if (revoked.status !== 200) throw new Error(`revoke: ${revoked.status}`);
  return decodeJwt(issued.body.access_token!).jti!;
}

t.test('SIGKILL between commit and delivery: delivered after the restart', async (t) => {
  const receiver = await NotifyReceiver.start();
  t.teardown(() => receiver.stop());
  const dataDir = await freshDataDir(t);
  const env = {
    DCR_APIM_NOTIFY_URL: receiver.url,
    DCR_APIM_NOTIFY_USER: 'notify',
    DCR_APIM_NOTIFY_PASSWORD: 'notify-Pa55',
    DCR_APIM_NOTIFY_POLL_INTERVAL: '100',
    DCR_APIM_NOTIFY_TIMEOUT: '1500',
    DCR_APIM_NOTIFY_RETRY_MAX_DELAY: '1',
  };
  let server = await startReady(t, dataDir, env);
  const client = await jwtApp(server, 'crash_app');

  // 1. The receiver takes the POST and never answers: the event is committed and sent, not acknowledged.
  receiver.fallback = 'hang';
  const inFlight = await revokeOne(server, client);
  t.ok(await until(() => receiver.received.length === 1, 10_000), 'the POST reached the receiver');
  t.equal(receiver.received[0]!.body.accessToken, inFlight);
  const firstId = receiver.received[0]!.body.eventId;
  t.ok(killGroup(server.pid, 'SIGKILL'), 'the server is SIGKILLed while the POST hangs');
  t.equal((await waitExit(server, 10_000)).signal, 'SIGKILL');

  // 2. Down altogether: nothing listens. An event committed by the next server while it is down.
  await receiver.stop();
  receiver.fallback = 200;
  server = await startReady(t, dataDir, env);
  const whileDown = await revokeOne(server, client);
  await new Promise((resolve) => setTimeout(resolve, 500));
  t.ok(killGroup(server.pid, 'SIGKILL'), 'SIGKILLed again, the second event not delivered');
  await waitExit(server, 10_000);

  // Back up: the receiver listens again, a server starts on the same data folder.
  const before = receiver.received.length;
  await receiver.listen();
  server = await startReady(t, dataDir, env);
  t.ok(
    await until(() => new Set(receiver.received.slice(before).filter((r) => r.answer === 200).map((r) => r.body.accessToken)).size === 2, 30_000),
    'both events delivered after the restart (the killed transaction rolled back: the hung one is due again)',
  );
  const delivered = receiver.received.filter((r) => r.answer === 200);
  t.same(delivered.map((r) => r.body.accessToken).sort(), [inFlight, whileDown].sort());
  t.equal(delivered.find((r) => r.body.accessToken === inFlight)!.body.eventId, firstId, 'the hung one again, with its eventId');
  t.comment(
    `receiver saw: ${receiver.received.map((r) => `${String(r.body.accessToken).slice(0, 8)}→${r.answer}`).join(', ')} ` +
      `(${receiver.received.length} requests for 2 events)`,
  );
  const health = (await (await fetch(`${server.baseUrl}/health/ready`)).json()) as { revocationEvents: { pending: number } };
  t.ok(await until(async () => ((await (await fetch(`${server.baseUrl}/health/ready`)).json()) as typeof health).revocationEvents.pending === 0, 10_000), 'the queue drains');
});

t.test('two instances over one database: each event once, each key in order', async (t) => {
  const receiver = await NotifyReceiver.start();
  t.teardown(() => receiver.stop());
  const { url, db } = await testDatabase(t, { migrate: false });
  const env = {
    DATABASE_URL: url,
    DCR_SECRET_KEY: randomBytes(32).toString('base64'),
    DCR_ADMIN_PASSWORD: E2E_ADMIN_PASSWORD,
    DCR_ISSUER: 'http://dcr.revocation-events.test',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'warn',
    DCR_APIM_NOTIFY_URL: receiver.url,
    DCR_APIM_NOTIFY_POLL_INTERVAL: '50',
    DCR_APIM_NOTIFY_RETRY_MAX_DELAY: '1',
    DCR_APIM_NOTIFY_BATCH_SIZE: '5',
  };
  const [a, b] = await Promise.all(
    [0, 1].map(async () => {
      const server = startServer(t, { ...env, PORT: String(await freePort()) });
      await waitReady(server, 60_000);
      return server;
    }),
  );
  const apps = [await jwtApp(a!, 'two_app_1'), await jwtApp(a!, 'two_app_2'), await jwtApp(a!, 'two_app_3')];
  // Every 7th request is refused with a 503: those events are sent again.
  let requests = 0;
  receiver.decide = () => (++requests % 7 === 0 ? 503 : undefined);
  const committed = new Map<string, string[]>(apps.map((app) => [app.clientId, []]));
  const revocations: Promise<void>[] = [];
  for (const [index, app] of apps.entries()) {
    // Each app's revocations one after the other (their commit order is known), through both instances in turn.
    revocations.push(
      (async () => {
        for (let i = 0; i < 20; i++) committed.get(app.clientId)!.push(await revokeOne(i % 2 === index % 2 ? a! : b!, app));
      })(),
    );
  }
  await Promise.all(revocations);
  const total = 60;
  t.ok(await until(() => receiver.received.filter((r) => r.answer === 200).length >= total, 30_000), `all ${total} events delivered`);
  await new Promise((resolve) => setTimeout(resolve, 500));
  const ok = receiver.received.filter((r) => r.answer === 200);
  const failed = receiver.received.filter((r) => r.answer !== 200);
  t.equal(ok.length, total, 'exactly one 2xx per event: no duplicate delivery');
  t.equal(new Set(ok.map((r) => r.body.eventId)).size, total, 'distinct eventIds');
  t.equal(receiver.received.length, total + failed.length, `no request beyond the ${failed.length} refused ones' retries`);
  for (const app of apps) {
    const order = ok.filter((r) => r.body.consumerKey === app.clientId).map((r) => r.body.accessToken);
    t.strictSame(order, committed.get(app.clientId), `${app.clientId}: delivered in commit order`);
  }
  const { rows } = await db.query<{ n: string }>('SELECT count(*) AS n FROM revocation_outbox');
  t.equal(rows[0]!.n, '0', 'the outbox is empty');
  t.comment(`receiver saw ${receiver.received.length} requests: ${ok.length} answered 200, ${failed.length} answered 503 and retried`);
});
