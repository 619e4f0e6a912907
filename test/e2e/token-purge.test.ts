/**
 * The real server process deletes expired tokens by itself (DCR_TOKEN_PURGE_INTERVAL), keeps the
 * unexpired ones, counts what it deleted in /metrics and says so in its log, and still stops
 * cleanly on SIGTERM. Over DATABASE_URL, so that the test can plant expired rows directly.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import pg from 'pg';
import t from 'tap';
import { emptyDatabase } from '../fixtures/db.js';
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
      `INSERT INTO access_tokens (id, token_hash, app_id, user_id, scopes, grant_type, expires_at)
       VALUES ($1, $2, $3, $4, '{default}', 'client_credentials', ${expires}) RETURNING id`,
      [randomUUID(), randomBytes(32), app.rows[0]!.id, user.rows[0]!.id],
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
