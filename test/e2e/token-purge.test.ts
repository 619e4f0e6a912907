/**
 * The real server process deletes expired tokens by itself (DCR_TOKEN_PURGE_INTERVAL), keeps the
 * unexpired ones, counts what it deleted in /metrics and says so in its log, and still stops
 * cleanly on SIGTERM; `dcr tokens purge` does the same at once, for an operator's own job. Over
 * DATABASE_URL, so that the test can plant expired rows directly.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import pg from 'pg';
import t from 'tap';
import { emptyDatabase } from '../fixtures/db.js';
import { runCli } from '../fixtures/dcr-process.js';
import { E2E_ADMIN, E2E_ADMIN_PASSWORD, WSO2_DOC_BODY, eventually, freePort, freshDataDir, register, startServer, waitExit, waitReady } from '../fixtures/server-process.js';

t.test('expired tokens are deleted in the background; unexpired ones stay', async (t) => {
  const { url } = await emptyDatabase(t, 'e2e');

  const server = startServer(t, {
    PORT: String(await freePort()),
    HOST: '127.0.0.1',
    DATABASE_URL: url,
    DCR_SECRET_KEY: randomBytes(32).toString('base64'),
    DCR_DATA_DIR: await freshDataDir(t),
    DCR_ADMIN_PASSWORD: E2E_ADMIN_PASSWORD,
    DCR_TOKEN_PURGE_INTERVAL: '1',
    LOG_LEVEL: 'info',
  });
  await waitReady(server);
  const created = await register(server, E2E_ADMIN, WSO2_DOC_BODY);
  t.equal(created.status, 200);

  const db = new pg.Client({ connectionString: url });
  await db.connect();
  t.teardown(() => db.end());
  const app = await db.query<{ id: string }>('SELECT id FROM applications WHERE client_id = $1', [created.body.clientId]);
  const user = await db.query<{ id: string }>("SELECT id FROM users WHERE username = 'admin'");
  const plant = (expires: string) =>
    db.query(
      `INSERT INTO access_tokens (id, app_id, user_id, scopes, grant_type, expires_at)
       VALUES ($1, $2, $3, '{default}', 'client_credentials', ${expires}) RETURNING id`,
      [randomUUID(), app.rows[0]!.id, user.rows[0]!.id],
    );
  for (let i = 0; i < 3; i++) await plant("now() - interval '1 minute'");
  const live = (await plant("now() + interval '1 hour'")).rows[0].id as string;

  const count = async () => Number((await db.query<{ n: string }>('SELECT count(*) AS n FROM access_tokens')).rows[0]!.n);
  t.ok(await eventually(async () => (await count()) === 1, 15_000), 'the three expired tokens were deleted');
  const left = await db.query<{ id: string }>('SELECT id FROM access_tokens');
  t.strictSame(left.rows.map((row) => row.id), [live], 'the unexpired one stays');

  const metrics = await (await fetch(`${server.baseUrl}/metrics`)).text();
  t.match(metrics, /^dcr_tokens_purged_total\{kind="access"\} 3$/m, 'counted in /metrics');
  const logged = server
    .stdout()
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as { msg?: string; purged?: unknown })
    .filter((line) => line.msg === 'deleted expired tokens');
  t.strictSame(logged.map((line) => line.purged), [{ access: 3, refresh: 0 }], 'one log line says what went');

  server.child.kill('SIGTERM');
  const exit = await waitExit(server, 15_000);
  t.strictSame({ code: exit.code, signal: exit.signal }, { code: 0, signal: null }, 'a clean stop with the purge timer armed');
});

t.test('dcr tokens purge: deletes what has expired now, says how much, keeps the rest', async (t) => {
  const { url } = await emptyDatabase(t, 'e2e');
  const env = { DATABASE_URL: url, DCR_DATA_DIR: await freshDataDir(t) };
  const migrated = await runCli(['migrate'], env);
  t.equal(migrated.code, 0, migrated.stderr);

  const db = new pg.Client({ connectionString: url });
  await db.connect();
  t.teardown(() => db.end());
  const userId = randomUUID();
  const appId = randomUUID();
  await db.query("INSERT INTO users (id, username, password_hash) VALUES ($1, 'owner', 'x')", [userId]);
  await db.query(
    `INSERT INTO applications (id, client_id, client_secret_enc, client_name, owner, owner_id, grant_types)
     VALUES ($1, 'cid', 'v1.x.y.z', 'app', 'owner', $2, '{client_credentials}')`,
    [appId, userId],
  );
  const plant = (expires: string) =>
    db.query(
      `INSERT INTO access_tokens (id, app_id, user_id, scopes, grant_type, expires_at)
       VALUES ($1, $2, $3, '{default}', 'client_credentials', ${expires})`,
      [randomUUID(), appId, userId],
    );
  for (let i = 0; i < 12; i++) await plant("now() - interval '1 hour'");
  await plant("now() + interval '1 hour'");
  const family = randomUUID();
  await db.query(
    `INSERT INTO refresh_tokens (id, token_hash, family_id, app_id, user_id, scopes, expires_at)
     VALUES ($1, $2, $3, $4, $5, '{default}', now() - interval '1 hour')`,
    [randomUUID(), randomBytes(32), family, appId, userId],
  );

  const purged = await runCli(['tokens', 'purge'], env);
  t.equal(purged.code, 0, purged.stderr);
  t.equal(purged.stdout, 'deleted 12 expired access tokens and 1 refresh token\n');
  const left = await db.query<{ n: string }>('SELECT count(*) AS n FROM access_tokens');
  t.equal(left.rows[0]!.n, '1', 'the unexpired token stays');

  const again = await runCli(['tokens', 'purge'], env);
  t.equal(again.stdout, 'deleted 0 expired access tokens and 0 refresh tokens\n', 'nothing left to delete');
});
