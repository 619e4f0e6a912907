/**
 * Database outages under load, against the REAL server process over an external PostgreSQL
 * reached through a TCP proxy written here (test/fixtures/tcp-proxy.ts), DCR_DB_TIMEOUT_MS=1000:
 * - cut (every connection destroyed, new ones closed) while registrations run: every answer is
 *   200 or 503 with WSO2's Error body, within a bound (no hang); /health/ready turns 503;
 * - restore: the service recovers by itself (time from restore to the first 200 measured);
 * - blackhole (connections accepted, nothing forwarded): the timeouts alone bound every wait;
 * - afterwards, straight in the database: every acknowledged registration is there with the
 *   credentials it was answered with, and every row is complete and decrypts (re-registering its
 *   name through the server answers the same credentials); no row exists for a name never sent.
 */
import { randomBytes } from 'node:crypto';
import t, { type Test } from 'tap';
import { serverUrl, testDatabase } from '../fixtures/db.js';
import { basicAuth, freePort, startServer, waitReady, type ServerProcess } from '../fixtures/server-process.js';
import { portOf, startTcpProxy, throughPort, type TcpProxy } from '../fixtures/tcp-proxy.js';

const ADMIN_PASSWORD = 'outage-Admin-Pa55';
const ADMIN = basicAuth('admin', ADMIN_PASSWORD);
const TIMEOUT_MS = 1000;
/** No answer may take longer than this (the bound the timeouts promise, with slack). */
const ANSWER_BOUND_MS = 3000;
const RECOVERY_BOUND_MS = 2000;
const WORKERS = 6;
const TOKEN_WORKERS = 2;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Outcome {
  kind: 'register' | 'token';
  name: string;
  status: number;
  ms: number;
  started: number;
  ended: number;
  body: Record<string, unknown> | undefined;
  retryAfter: string | null;
  /** Set when the client gave up (a hang). */
  error?: string;
}

/** What WSO2's Error body is, exactly: these keys, code = the status. */
function isErrorBody(body: unknown, status: number): boolean {
  if (!body || typeof body !== 'object' || Array.isArray(body)) return false;
  const b = body as Record<string, unknown>;
  return (
    JSON.stringify(Object.keys(b).sort()) === JSON.stringify(['code', 'description', 'error', 'message', 'moreInfo']) &&
    b.code === status &&
    typeof b.message === 'string' &&
    typeof b.description === 'string' &&
    typeof b.moreInfo === 'string' &&
    Array.isArray(b.error)
  );
}

function isOAuthUnavailable(body: unknown): boolean {
  const b = body as Record<string, unknown> | undefined;
  return JSON.stringify(Object.keys(b ?? {}).sort()) === '["error","error_description"]' && b?.error === 'temporarily_unavailable';
}

async function post(server: ServerProcess, name: string): Promise<Outcome> {
  const started = Date.now();
  try {
    const res = await fetch(`${server.baseUrl}/client-registration/v0.17/register`, {
      method: 'POST',
      headers: { authorization: ADMIN, 'content-type': 'application/json' },
      body: JSON.stringify({ clientName: name, owner: 'admin', grantType: 'client_credentials password refresh_token' }),
      // Far above the bound: a request still open at this point is a hang.
      signal: AbortSignal.timeout(15_000),
    });
    const text = await res.text();
    const ended = Date.now();
    let body: Record<string, unknown> | undefined;
    try {
      body = JSON.parse(text) as Record<string, unknown>;
    } catch {
      body = undefined;
    }
    return { kind: 'register', name, status: res.status, ms: ended - started, started, ended, body, retryAfter: res.headers.get('retry-after') };
  } catch (err) {
    const ended = Date.now();
    return { kind: 'register', name, status: 0, ms: ended - started, started, ended, body: undefined, retryAfter: null, error: String(err) };
  }
}

interface Client {
  clientId: string;
  clientSecret: string;
}

/** A password grant with a refresh token: reads, then two short transactions (the token rows). */
async function token(server: ServerProcess, client: Client): Promise<Outcome> {
  const started = Date.now();
  try {
    const res = await fetch(`${server.baseUrl}/oauth2/token`, {
      method: 'POST',
      headers: { authorization: basicAuth(client.clientId, client.clientSecret), 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'password', username: 'admin', password: ADMIN_PASSWORD }).toString(),
      signal: AbortSignal.timeout(15_000),
    });
    const body = (await res.json().catch(() => undefined)) as Record<string, unknown> | undefined;
    const ended = Date.now();
    return { kind: 'token', name: 'token', status: res.status, ms: ended - started, started, ended, body, retryAfter: res.headers.get('retry-after') };
  } catch (err) {
    const ended = Date.now();
    return { kind: 'token', name: 'token', status: 0, ms: ended - started, started, ended, body: undefined, retryAfter: null, error: String(err) };
  }
}

/** Load: WORKERS loops registering fresh names, and TOKEN_WORKERS loops asking for tokens, until stopped. */
function startLoad(server: ServerProcess, prefix: string, client: Client) {
  let stopped = false;
  let seq = 0;
  const outcomes: Outcome[] = [];
  const worker = async () => {
    while (!stopped) {
      const outcome = await post(server, `${prefix}_${seq++}`);
      outcomes.push(outcome);
      // A client backs off a little after an error instead of spinning.
      if (outcome.status !== 200) await sleep(25);
    }
  };
  const tokenWorker = async () => {
    while (!stopped) {
      const outcome = await token(server, client);
      outcomes.push(outcome);
      if (outcome.status !== 200) await sleep(25);
    }
  };
  const running = Promise.all([...Array.from({ length: WORKERS }, worker), ...Array.from({ length: TOKEN_WORKERS }, tokenWorker)]);
  return {
    outcomes,
    async stop() {
      stopped = true;
      await running;
    },
  };
}

/** Polls /health/ready every 100 ms, recording (time, status). */
function pollReady(server: ServerProcess) {
  let stopped = false;
  const samples: { at: number; status: number; ms: number }[] = [];
  const running = (async () => {
    while (!stopped) {
      const started = Date.now();
      try {
        const res = await fetch(`${server.baseUrl}/health/ready`, { signal: AbortSignal.timeout(15_000) });
        await res.arrayBuffer();
        samples.push({ at: Date.now(), status: res.status, ms: Date.now() - started });
      } catch {
        samples.push({ at: Date.now(), status: 0, ms: Date.now() - started });
      }
      await sleep(100);
    }
  })();
  return {
    samples,
    async stop() {
      stopped = true;
      await running;
    },
  };
}

const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
};

interface PhaseResult {
  outcomes: Outcome[];
  restoredAt: number;
  outageStartedAt: number;
  recoveryMs: number;
  ready: { at: number; status: number; ms: number }[];
}

/** Load; after `beforeMs` the outage starts (`fail`), lasts `outageMs`, then restore; load goes on `afterMs`. */
async function outagePhase(
  server: ServerProcess,
  proxy: TcpProxy,
  prefix: string,
  client: Client,
  fail: () => void,
  timing: { beforeMs: number; outageMs: number; afterMs: number },
): Promise<PhaseResult> {
  const load = startLoad(server, prefix, client);
  const ready = pollReady(server);
  await sleep(timing.beforeMs);
  const outageStartedAt = Date.now();
  fail();
  await sleep(timing.outageMs);
  const restoredAt = Date.now();
  proxy.restore();
  await sleep(timing.afterMs);
  await load.stop();
  await ready.stop();
  const firstOk = load.outcomes.filter((o) => o.kind === 'register' && o.status === 200 && o.started >= restoredAt).sort((a, b) => a.ended - b.ended)[0];
  return {
    outcomes: load.outcomes,
    restoredAt,
    outageStartedAt,
    recoveryMs: firstOk ? firstOk.ended - restoredAt : Infinity,
    ready: ready.samples,
  };
}

function checkPhase(t: Test, label: string, phase: PhaseResult): Record<string, number> {
  const { outcomes } = phase;
  const hangs = outcomes.filter((o) => o.status === 0);
  t.same(hangs.map((o) => o.error), [], `${label}: every request got an answer`);
  const slowest = Math.max(...outcomes.map((o) => o.ms));
  const tooSlow = outcomes.filter((o) => o.ms >= ANSWER_BOUND_MS);
  t.same(tooSlow.map((o) => `${o.name}: ${o.status} in ${o.ms} ms`), [], `${label}: every answer within ${ANSWER_BOUND_MS} ms (slowest ${slowest} ms)`);
  const statuses = [...new Set(outcomes.map((o) => o.status))].sort();
  t.same(statuses, [200, 503], `${label}: the answers are 200 and 503, nothing else`);
  const failures = outcomes.filter((o) => o.status === 503);
  t.ok(failures.length > 0, `${label}: the outage was seen (${failures.length} × 503)`);
  const badBodies = failures.filter((o) => (o.kind === 'register' ? !isErrorBody(o.body, 503) : !isOAuthUnavailable(o.body)));
  t.same(badBodies.map((o) => o.body), [], `${label}: every 503 carries the Error body with code 503 (RFC 6749's temporarily_unavailable on /oauth2/token)`);
  const tokens = outcomes.filter((o) => o.kind === 'token');
  t.ok(tokens.some((o) => o.status === 503) && tokens.some((o) => o.status === 200), `${label}: token requests were served and failed too (${tokens.length})`);
  t.ok(failures.every((o) => o.retryAfter === '1'), `${label}: every 503 says Retry-After: 1`);
  t.ok(
    failures.every((o) => o.ended >= phase.outageStartedAt),
    `${label}: no 503 before the outage`,
  );
  const during = phase.ready.filter((s) => s.at > phase.outageStartedAt + 200 && s.at < phase.restoredAt);
  t.ok(during.length > 0 && during.every((s) => s.status === 503), `${label}: /health/ready answers 503 during the outage (${during.map((s) => s.status).join(' ')})`);
  t.ok(phase.ready.every((s) => s.ms < ANSWER_BOUND_MS), `${label}: /health/ready answers within ${ANSWER_BOUND_MS} ms (slowest ${Math.max(...phase.ready.map((s) => s.ms))} ms)`);
  t.equal(phase.ready.at(-1)?.status, 200, `${label}: /health/ready is 200 again after the restore`);
  t.ok(phase.recoveryMs < RECOVERY_BOUND_MS, `${label}: first 200 ${phase.recoveryMs} ms after the restore (bound ${RECOVERY_BOUND_MS} ms)`);
  const outageMs = failures.map((o) => o.ms);
  const figures = {
    requests: outcomes.length,
    token_requests: tokens.length,
    ok: outcomes.filter((o) => o.status === 200).length,
    unavailable: failures.length,
    p50_503_ms: percentile(outageMs, 50),
    p99_503_ms: percentile(outageMs, 99),
    max_503_ms: Math.max(...outageMs),
    max_answer_ms: slowest,
    max_ready_ms: Math.max(...phase.ready.map((s) => s.ms)),
    recovery_ms: phase.recoveryMs,
  };
  t.comment(`${label}: ${JSON.stringify(figures)}`);
  const slowestFive = [...outcomes].sort((a, b) => b.ms - a.ms).slice(0, 5);
  t.comment(
    `${label}: slowest (ms after the outage began → ms taken, status): ${slowestFive
      .map((o) => `${o.started - phase.outageStartedAt}→${o.ms} ${o.status}`)
      .join(', ')}; restore at ${phase.restoredAt - phase.outageStartedAt}`,
  );
  return figures;
}

t.test('database outages under registration load, through a TCP proxy', async (t) => {
  const { name: database, db: direct } = await testDatabase(t, { migrate: false });
  const proxy = await startTcpProxy(portOf(serverUrl()));
  t.teardown(() => proxy.close());
  const server = startServer(t, {
    PORT: String(await freePort()),
    HOST: '127.0.0.1',
    DATABASE_URL: throughPort(serverUrl(), proxy.port, database),
    DCR_SECRET_KEY: randomBytes(32).toString('base64'),
    DCR_ADMIN_PASSWORD: ADMIN_PASSWORD,
    DCR_DB_TIMEOUT_MS: String(TIMEOUT_MS),
    // Thousands of 503s would each log a line; a crash still shows on stderr (reported below).
    LOG_LEVEL: 'fatal',
  });
  await waitReady(server, 60_000);
  // Warm up: the admin's password is verified once (production scrypt cost), then remembered.
  const warm = await post(server, 'warm_up');
  t.equal(warm.status, 200, 'a first registration');
  const client = { clientId: String(warm.body!.clientId), clientSecret: String(warm.body!.clientSecret) };
  t.equal((await token(server, client)).status, 200, 'a first token');

  const cut = await outagePhase(server, proxy, 'cut', client, () => proxy.cut(), { beforeMs: 800, outageMs: 2500, afterMs: 2000 });
  t.test('cut: connections destroyed, new ones refused', async (t) => {
    checkPhase(t, 'cut', cut);
    // A cut is noticed at once: the answers come back as fast as the failure is detected.
    t.ok(percentile(cut.outcomes.filter((o) => o.status === 503).map((o) => o.ms), 50) < TIMEOUT_MS, 'a cut answers 503 faster than the timeout (median)');
  });

  const hole = await outagePhase(server, proxy, 'hole', client, () => proxy.blackhole(), { beforeMs: 800, outageMs: 4000, afterMs: 2500 });
  t.test('blackhole: nothing answers, only the timeouts end the wait', async (t) => {
    checkPhase(t, 'blackhole', hole);
    const failures = hole.outcomes.filter((o) => o.status === 503).map((o) => o.ms);
    t.ok(Math.max(...failures) >= TIMEOUT_MS * 0.9, `the wait is the timeout's (slowest 503: ${Math.max(...failures)} ms)`);
  });

  t.test('no acknowledged registration lost, no half-written app', async (t) => {
    const outcomes = [...cut.outcomes, ...hole.outcomes].filter((o) => o.kind === 'register');
    const acknowledged = new Map(outcomes.filter((o) => o.status === 200).map((o) => [o.name, o.body!]));
    const attempted = new Map(outcomes.map((o) => [o.name, o.status]));
    const { rows } = await direct.query<{
      client_name: string;
      client_id: string;
      client_secret_enc: string;
      owner: string;
      grant_types: string[];
    }>('SELECT client_name, client_id, client_secret_enc, owner, grant_types FROM applications');
    const stored = new Map(rows.map((row) => [row.client_name, row]));

    const lost = [...acknowledged.keys()].filter((name) => !stored.has(name));
    t.same(lost, [], `every acknowledged registration is stored (${acknowledged.size})`);
    const changed = [...acknowledged].filter(([name, body]) => stored.get(name)?.client_id !== body.clientId);
    t.same(changed.map(([name]) => name), [], 'with the clientId it was answered with');
    attempted.set('warm_up', 200);
    acknowledged.set('warm_up', warm.body!);
    const unknown = rows.filter((row) => !attempted.has(row.client_name));
    t.same(unknown.map((row) => row.client_name), [], 'no row for a name never sent');
    const extras = rows.filter((row) => !acknowledged.has(row.client_name));
    t.ok(
      extras.every((row) => attempted.get(row.client_name) === 503),
      `rows beyond the acknowledged ones (${extras.length}) are registrations whose commit raced the outage`,
    );
    t.equal(rows.length, acknowledged.size + extras.length, `rows = acknowledged (${acknowledged.size}) + committed-but-unacknowledged (${extras.length})`);
    const malformed = rows.filter(
      (row) => !/^v1\.[\w-]{8}\.[\w-]{16}\.[\w-]+$/.test(row.client_secret_enc) || row.owner !== 'admin' || row.grant_types.length !== 3,
    );
    t.same(malformed.map((row) => row.client_name), [], 'every row is complete');

    // Every row decrypts: registering its name again answers its credentials.
    const mismatched: string[] = [];
    const queue = [...rows];
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        for (let row = queue.shift(); row; row = queue.shift()) {
          const again = await post(server, row.client_name);
          const first = acknowledged.get(row.client_name);
          if (
            again.status !== 200 ||
            again.body?.clientId !== row.client_id ||
            (first !== undefined && again.body?.clientSecret !== first.clientSecret)
          ) {
            mismatched.push(`${row.client_name}: ${again.status} ${JSON.stringify(again.body)}`);
          }
        }
      }),
    );
    t.same(mismatched, [], `all ${rows.length} rows decrypt and answer the same credentials`);
    t.comment(`data: ${JSON.stringify({ acknowledged: acknowledged.size, rows: rows.length, committed_unacknowledged: extras.length, attempted: attempted.size })}`);
  });

  t.test('the server survived it all', async (t) => {
    t.ok(server.isRunning(), 'the process still runs');
    if (!server.isRunning()) t.comment(server.stderr().slice(-4000));
  });
});
