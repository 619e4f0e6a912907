/**
 * The real server process, as `npm start` runs it, over real sockets: start-up on a fresh data
 * folder, registration as WSO2's docs show it, graceful SIGTERM (exit 0, embedded Postgres
 * stopped), durability across a restart, the generated first admin password, and start-up
 * refusals for bad configuration.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import pg from 'pg';
import t from 'tap';
import { emptyDatabase } from '../fixtures/db.js';
import {
  E2E_ADMIN,
  E2E_ADMIN_PASSWORD,
  WSO2_DOC_BODY,
  basicAuth,
  createUserOverHttp,
  eventually,
  freePort,
  freshDataDir,
  register,
  startReady,
  startServer,
  stopGracefully,
  waitExit,
} from '../fixtures/server-process.js';

const ADMIN_PASSWORD = E2E_ADMIN_PASSWORD;
const ADMIN = E2E_ADMIN;
const start = startReady;

t.test('start, register, SIGTERM, restart: the same credentials', async (t) => {
  const dataDir = await freshDataDir(t);
  const first = await start(t, dataDir);

  const health = await fetch(`${first.baseUrl}/health/live`);
  t.equal(health.status, 200);
  t.strictSame(await health.json(), { status: 'UP' });

  const created = await register(first, ADMIN, WSO2_DOC_BODY);
  t.equal(created.status, 200, JSON.stringify(created.body));
  t.equal(created.headers.get('cache-control'), 'no-store');
  t.match(created.headers.get('content-type'), /^application\/json/);
  t.equal(created.body.clientName, 'rest_api_publisher');
  t.equal(created.body.callBackURL, 'www.google.lk', "WSO2's key, the one real clients read");
  t.equal(created.body.callbackUrl, 'www.google.lk', "the seed's spelling");
  t.equal(created.body.appOwner, 'admin');
  t.equal(created.body.isSaasApplication, true);
  t.equal(created.body.tokenType, 'DEFAULT');
  t.match(created.body.clientId, /^[A-Za-z0-9_-]{22,}$/);
  t.match(created.body.clientSecret, /^[A-Za-z0-9_-]{22,}$/);
  t.strictSame(JSON.parse(created.body.jsonString as string), {
    grant_types: 'client_credentials password refresh_token',
    redirect_uris: 'www.google.lk',
    client_name: 'rest_api_publisher',
  });

  const user = await createUserOverHttp(first, ADMIN, 'publisher', 'publisher-Secret-1');
  t.equal(user.status, 201, JSON.stringify(user.body));
  t.equal(user.headers.get('content-type'), 'application/scim+json; charset=utf-8');
  t.equal(user.headers.get('location'), (user.body.meta as { location: string }).location);
  const publisher = basicAuth('publisher', 'publisher-Secret-1');
  const own = await register(first, publisher, { ...WSO2_DOC_BODY, clientName: 'publisher_app', owner: 'publisher' });
  t.equal(own.status, 200, JSON.stringify(own.body));
  t.equal(own.body.appOwner, 'publisher');
  t.not(own.body.clientId, created.body.clientId);

  const unauthorised = await register(first, basicAuth('admin', 'wrong-password'), WSO2_DOC_BODY);
  t.equal(unauthorised.status, 401);
  t.ok(unauthorised.headers.get('www-authenticate'), 'a challenge');

  // The server reaches its embedded cluster over a Unix socket inside the data folder (TCP stays
  // open on loopback for tools): PostgreSQL shows such a session with no client address.
  const pgDir = path.join(dataDir, 'pg');
  const sockets = () => readdirSync(pgDir).filter((name) => /^\.s\.PGSQL\.\d+$/.test(name));
  t.equal(sockets().length, 1, 'one socket, in the data folder');
  const pgPort = readFileSync(path.join(pgDir, 'postmaster.pid'), 'utf8').split('\n')[3];
  const password = readFileSync(path.join(dataDir, 'pg-password'), 'utf8').trim();
  const probe = new pg.Client({ connectionString: `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${pgPort}/dcr` });
  await probe.connect();
  try {
    const { rows } = await probe.query<{ socket: string; tcp: string }>(
      `SELECT count(*) FILTER (WHERE client_addr IS NULL) AS socket, count(*) FILTER (WHERE client_addr IS NOT NULL) AS tcp
         FROM pg_stat_activity WHERE datname = 'dcr' AND backend_type = 'client backend' AND pid <> pg_backend_pid()`,
    );
    t.ok(Number(rows[0]!.socket) >= 1, `the server's sessions use the socket (${JSON.stringify(rows[0])})`);
    t.equal(rows[0]!.tcp, '0', 'none of them TCP');
  } finally {
    await probe.end();
  }

  await stopGracefully(t, first);
  t.same(sockets(), [], 'the socket is gone with the cluster');

  const second = await start(t, dataDir);
  t.notMatch(second.stderr(), /initialising/, 'the second start reuses the cluster');
  const again = await register(second, ADMIN, WSO2_DOC_BODY);
  t.equal(again.status, 200, JSON.stringify(again.body));
  t.equal(again.body.clientId, created.body.clientId, 'the same clientId after a restart');
  t.equal(again.body.clientSecret, created.body.clientSecret, 'the same clientSecret after a restart');
  t.equal(again.body.applicationUUID, created.body.applicationUUID);
  const ownAgain = await register(second, publisher, { ...WSO2_DOC_BODY, clientName: 'publisher_app', owner: 'publisher' });
  t.equal(ownAgain.status, 200, 'the SCIM-created user survives the restart too');
  t.equal(ownAgain.body.clientId, own.body.clientId);
  t.equal(ownAgain.body.clientSecret, own.body.clientSecret);

  await stopGracefully(t, second);
});

t.test('no DCR_ADMIN_PASSWORD on a fresh data folder: a generated password, shown once on stdout', async (t) => {
  const dataDir = await freshDataDir(t);
  // info level: request log lines are written, and must not carry the password either.
  const env = { DCR_ADMIN_PASSWORD: undefined, LOG_LEVEL: 'info' };
  const first = await start(t, dataDir, env);

  const shown = await eventually(() => /generated password:/.test(first.stdout()), 5_000);
  t.ok(shown, 'the banner is on stdout');
  const password = /generated password:\s*\n\s*\n\s+(\S+)\s*\n/.exec(first.stdout())?.[1];
  if (!password) {
    t.fail(`no password found on stdout:\n${first.stdout()}`);
    return;
  }
  t.ok(password.length >= 16, 'a long password');

  const ok = await register(first, basicAuth('admin', password), { ...WSO2_DOC_BODY, clientName: 'generated_admin_app' });
  t.equal(ok.status, 200, 'the generated password authenticates the admin');
  const wrong = await register(first, ADMIN, { ...WSO2_DOC_BODY, clientName: 'generated_admin_app' });
  t.equal(wrong.status, 401, 'no default password works');

  const occurrences = first.stdout().split(password).length - 1;
  t.equal(occurrences, 1, 'shown exactly once');
  t.notOk(first.stderr().includes(password), 'never on stderr');
  const logLines = first.stdout().split('\n').filter((line) => line.startsWith('{'));
  t.ok(logLines.length > 0, 'there are log lines to check');
  t.notOk(logLines.some((line) => line.includes(password)), 'never in a log line');
  t.notOk(first.stdout().includes(Buffer.from(`admin:${password}`).toString('base64')), 'nor its Basic credential');
  await stopGracefully(t, first);

  const second = await start(t, dataDir, env);
  const again = await register(second, basicAuth('admin', password), { ...WSO2_DOC_BODY, clientName: 'generated_admin_app' });
  t.equal(again.status, 200, 'the generated password still works after a restart');
  t.equal(again.body.clientId, ok.body.clientId);
  t.notMatch(second.stdout(), /generated password/, 'no password is printed on the second start');
  t.notOk(second.stdout().includes(password) || second.stderr().includes(password), 'nor the first one again');
  await stopGracefully(t, second);
});

t.test('a first start that cannot listen still shows the password of the admin it created', async (t) => {
  const dataDir = await freshDataDir(t);
  const blocker = net.createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise((resolve) => blocker.close(resolve)));
  const takenPort = (blocker.address() as net.AddressInfo).port;

  const first = startServer(t, { PORT: String(takenPort), HOST: '127.0.0.1', DCR_DATA_DIR: dataDir, LOG_LEVEL: 'warn' });
  const exit = await waitExit(first, 45_000);
  t.not(exit.code, 0, `the port is taken: a non-zero exit (${exit.code})`);
  t.match(first.stdout() + first.stderr(), /EADDRINUSE|could not listen/i, 'saying why');
  const password = /generated password:\s*\n\s*\n\s+(\S+)\s*\n/.exec(first.stdout())?.[1];
  t.ok(password, 'the generated password was shown before giving up');

  const second = await start(t, dataDir, { DCR_ADMIN_PASSWORD: undefined });
  t.notMatch(second.stdout(), /generated password/, 'the admin exists: no new password');
  if (password) {
    const res = await register(second, basicAuth('admin', password), { ...WSO2_DOC_BODY, clientName: 'after_failed_listen' });
    t.equal(res.status, 200, 'the password shown works');
  }
  await stopGracefully(t, second);
});

t.test('DATABASE_URL without DCR_SECRET_KEY: refuses to start, naming DCR_SECRET_KEY', async (t) => {
  const { url } = await emptyDatabase(t, 'e2e');
  const dataDir = path.join(await freshDataDir(t), 'unused');

  const server = startServer(t, {
    PORT: String(await freePort()),
    HOST: '127.0.0.1',
    DATABASE_URL: url,
    DCR_DATA_DIR: dataDir,
    DCR_ADMIN_PASSWORD: ADMIN_PASSWORD,
    LOG_LEVEL: 'warn',
  });
  const exit = await waitExit(server, 20_000);
  t.not(exit.code, 0, `a non-zero exit code (${exit.code})`);
  t.equal(exit.signal, null);
  t.match(server.stderr(), /DCR_SECRET_KEY/, 'stderr names the missing setting');
  t.notOk(existsSync(dataDir), 'no embedded cluster was started');

  const db = new pg.Client({ connectionString: url });
  await db.connect();
  const { rows } = await db.query<{ n: string }>("SELECT count(*) AS n FROM information_schema.tables WHERE table_schema = 'public'");
  await db.end();
  t.equal(Number(rows[0]!.n), 0, 'nothing was written to the database');
});

t.test('PORT=abc: refuses to start, naming PORT', async (t) => {
  const dataDir = path.join(await freshDataDir(t), 'unused');
  const server = startServer(t, { PORT: 'abc', HOST: '127.0.0.1', DCR_DATA_DIR: dataDir, DCR_ADMIN_PASSWORD: ADMIN_PASSWORD, LOG_LEVEL: 'warn' });
  const exit = await waitExit(server, 20_000);
  t.not(exit.code, 0, `a non-zero exit code (${exit.code})`);
  t.equal(exit.signal, null);
  t.match(server.stderr(), /\bPORT\b/, 'stderr names PORT');
  t.notOk(existsSync(dataDir), 'nothing was started');
});
