/**
 * The `dcr` commands that call a running server (`app register`, `status`, `token`; src/cli/remote.ts,
 * through the typed client of src/client.ts) as subprocesses, against one real server process on a
 * database of its own in the run's shared cluster (DATABASE_URL), so no cluster is started here.
 * Secrets go in on stdin and never come out, except the client secret with --show-secret; a refusal
 * (4xx) exits 2 with the server's Error on stderr, an unreachable server exits 3.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import { basicAuth, createPlatformClient, formEncoded } from '../../src/client.js';
import { testDatabase } from '../fixtures/db.js';
import { freePort, runCli, startServer, type CliResult } from '../fixtures/dcr-process.js';

const ADMIN_PASSWORD = 'remote-e2e-Admin-1';
const APP = 'cli_remote_app';
const HIDDEN = '(hidden; --show-secret prints it)';

const detail = (result: CliResult) => `exit ${result.code}\nstdout: ${result.stdout}\nstderr: ${result.stderr}`;

/** A failure: the exit code, nothing on stdout, exactly one `dcr: …` line on stderr. */
function failsWith(t: Test, result: CliResult, code: number, stderr: string | RegExp, what: string) {
  t.equal(result.code, code, `${what}: exit code ${code}\n${detail(result)}`);
  t.equal(result.stdout, '', `${what}: nothing on stdout`);
  if (typeof stderr === 'string') t.equal(result.stderr, stderr, what);
  else t.match(result.stderr, stderr, what);
}

t.test('app register, status and token against a running server, through the typed client', async (t) => {
  const { url } = await testDatabase(t);
  const server = await startServer(t, {
    DATABASE_URL: url,
    DCR_SECRET_KEY: randomBytes(32).toString('base64'),
    DCR_ADMIN_PASSWORD: ADMIN_PASSWORD,
  });
  const base = server.baseUrl;
  const closed = `http://127.0.0.1:${await freePort()}`;
  const outputs: CliResult[] = [];
  const cli = async (args: string[], input?: string, env: Record<string, string> = {}) => {
    const result = await runCli(args, env, input);
    outputs.push(result);
    return result;
  };
  const register = (name: string, ...extra: string[]) => ['app', 'register', name, '--url', base, '--user', 'admin', ...extra];

  // First registration on its own: the parallel calls below expect the app to exist.
  const created = await cli(register(APP, '--saas'), `${ADMIN_PASSWORD}\n`);
  t.equal(created.code, 0, detail(created));
  const clientId = /^clientId +(\S+)$/m.exec(created.stdout)?.[1] ?? '';
  t.match(clientId, /^[A-Za-z0-9_-]{20,}$/, 'a clientId is printed');
  t.equal(created.stdout, `clientName    ${APP}\nclientId      ${clientId}\nclientSecret  ${HIDDEN}\n`, 'name and id, the secret hidden');
  t.equal(created.stderr, '', 'nothing on stderr');

  const [again, asJson, wrongPassword, badName, noCredentials, unreachable, status, statusDown] = await Promise.all([
    cli(register(APP, '--show-secret'), `${ADMIN_PASSWORD}\n`),
    cli(register(APP, '--json'), `${ADMIN_PASSWORD}\n`),
    cli(register(APP), 'not-the-password\n'),
    cli(register('bad/name'), `${ADMIN_PASSWORD}\n`),
    cli(['app', 'register', APP, '--url', base]),
    cli(['app', 'register', APP, '--url', closed, '--user', 'admin'], `${ADMIN_PASSWORD}\n`),
    cli(['status', '--url', base]),
    cli(['status'], undefined, { DCR_URL: closed }),
  ]);

  // WSO2's idempotent register: the same name by its owner answers the same application.
  t.equal(again.code, 0, detail(again));
  const secret = /^clientSecret {2}(\S+)$/m.exec(again.stdout)?.[1] ?? '';
  t.equal(again.stdout, `clientName    ${APP}\nclientId      ${clientId}\nclientSecret  ${secret}\n`, 'the same clientId, and the secret');
  t.not(secret, HIDDEN);

  t.equal(asJson.code, 0, detail(asJson));
  const answer = JSON.parse(asJson.stdout) as Record<string, unknown>;
  t.match(answer, { clientId, clientName: APP, appOwner: 'admin', isSaasApplication: true, tokenType: 'DEFAULT' }, '--json: the DCRResult');
  t.same(JSON.parse(String(answer.jsonString)), { grant_types: 'client_credentials password refresh_token', redirect_uris: null, client_name: APP });
  t.notOk('clientSecret' in answer, '--json without --show-secret has no clientSecret');

  failsWith(t, wrongPassword, 2, 'dcr: 401 Unauthorized: The user is not authorized\n', 'a wrong password: the Error body, exit 2');
  failsWith(
    t,
    badName,
    2,
    "dcr: 400 Bad Request: Application name 'bad/name' is invalid: it may contain only letters, digits, white space, '.', '_' and '-'\n",
    'an invalid clientName: exit 2',
  );
  failsWith(
    t,
    noCredentials,
    1,
    'dcr: give --user <name> (the password from stdin or a prompt), --bearer-file <file>, or set DCR_TOKEN\n',
    'no credentials',
  );
  const refused = closed.replace('http://', '');
  failsWith(t, unreachable, 3, `dcr: cannot reach ${closed}: connect ECONNREFUSED ${refused}\n`, 'a closed port: exit 3');

  t.equal(status.code, 0, detail(status));
  t.equal(status.stdout, `ready: ${base} (live, ready: database UP, migrations UP; issuer ${base}/oauth2/token)\n`, 'status: ready');
  t.equal(statusDown.code, 1, detail(statusDown));
  t.equal(statusDown.stdout, `down: cannot reach ${closed}: connect ECONNREFUSED ${refused}\n`, 'status on DCR_URL, nobody there');

  // The secret printed works: an app token with it (client_credentials), and that token registers.
  const [token, badSecret] = await Promise.all([
    cli(['token', '--url', base, '--client-id', clientId, '--scope', 'apim:dcr:app_manage'], `${secret}\n`),
    cli(['token', '--url', base, '--client-id', clientId], 'not-the-secret\n'),
  ]);
  t.equal(token.code, 0, detail(token));
  const accessToken = token.stdout.trim();
  t.match(accessToken, /^\S{20,}$/, 'the access token alone on stdout');
  failsWith(t, badSecret, 2, /^dcr: 401 Unauthorized: invalid_client(: [^\n]*)?\n$/, 'a wrong client secret: the OAuth2 error, exit 2');

  const tokenFile = path.join(await fs.mkdtemp(path.join(os.tmpdir(), 'dcr-remote-')), 'token');
  t.teardown(() => fs.rm(path.dirname(tokenFile), { recursive: true, force: true }));
  await fs.writeFile(tokenFile, `${accessToken}\n`, { mode: 0o600 });
  const [viaEnv, viaFile, bearerNoOwner] = await Promise.all([
    cli(['app', 'register', 'cli_remote_bearer', '--url', base, '--owner', 'admin', '--token-type', 'JWT', '--json'], undefined, {
      DCR_TOKEN: accessToken,
    }),
    cli(['app', 'register', 'cli_remote_bearer_file', '--url', base, '--owner', 'admin', '--bearer-file', tokenFile]),
    cli(['app', 'register', 'cli_remote_x', '--url', base], undefined, { DCR_TOKEN: accessToken }),
  ]);
  t.equal(viaEnv.code, 0, detail(viaEnv));
  t.match(JSON.parse(viaEnv.stdout), { clientName: 'cli_remote_bearer', appOwner: 'admin', tokenType: 'JWT' }, 'registered with DCR_TOKEN');
  t.equal(viaFile.code, 0, detail(viaFile));
  t.match(viaFile.stdout, /^clientName {4}cli_remote_bearer_file\n/, 'registered with --bearer-file');
  failsWith(t, bearerNoOwner, 1, /^dcr: --owner is required with a Bearer token/, 'a token without --owner');

  // The server agrees with what the CLI printed: the secret is the app's (checked through the typed client).
  const check = await createPlatformClient({ baseUrl: base }).POST('/oauth2/introspect', {
    ...formEncoded({ Authorization: basicAuth(clientId, secret) }),
    body: { token: accessToken },
  });
  t.equal(check.data?.active, true, 'the token from `dcr token` is active for the printed credentials');

  const everything = outputs.map((o) => o.stdout + o.stderr).join('\n');
  t.notOk(everything.includes(ADMIN_PASSWORD), 'no password is ever printed');
  t.same(
    outputs.filter((o) => o.stdout.includes(secret)).map((o) => o.stdout),
    [again.stdout],
    'the client secret appears only in the --show-secret output',
  );
});
