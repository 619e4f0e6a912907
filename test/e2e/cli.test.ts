/**
 * The `dcr` CLI as a subprocess (`node --import tsx src/cli.ts …`) over a fresh data folder:
 * - with no server running it starts the embedded cluster for the command and stops it after;
 * - while the server runs it attaches to the server's cluster (no second postgres), and what it
 *   does is visible over HTTP at once (checked with the typed client only).
 * Passwords go in on stdin and never come out; a secret is printed only with --show-secret.
 */
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import t, { type Test } from 'tap';
import { basicAuth, createDcrClient, createPlatformClient } from '../../src/client.js';
import { settingsMarkdown } from '../../src/config/settings-docs.js';
import { freshDataDir, PROJECT_ROOT, runCli, startServer, type CliResult } from '../fixtures/dcr-process.js';

const ADMIN_PASSWORD = 'cli-e2e-Admin-1';
const BOB_PASSWORD = 'bob-Secret-1';
const BOB_NEW_PASSWORD = 'bob-Secret-2';
const APP = 'cli_e2e_app';

const detail = (result: CliResult) => `exit ${result.code}\nstdout: ${result.stdout}\nstderr: ${result.stderr}`;

/** A failure: exit code 1, nothing on stdout, and one `dcr: <message>` line, the last on stderr. */
function failsWith(t: Test, result: CliResult, message: RegExp, what: string) {
  t.equal(result.code, 1, `${what}: exit code 1\n${detail(result)}`);
  t.equal(result.stdout, '', `${what}: nothing on stdout`);
  t.match(result.stderr, /(^|\n)dcr: [^\n]+\n$/, `${what}: the message is the last line`);
  t.equal(result.stderr.match(/^dcr: /gm)?.length, 1, `${what}: one error line`);
  t.match(result.stderr, message, what);
}

async function postmasterPid(dataDir: string): Promise<string | undefined> {
  const text = await fs.readFile(path.join(dataDir, 'pg', 'postmaster.pid'), 'utf8').catch(() => undefined);
  return text?.split('\n')[0];
}

t.test("the README's settings table is the one generated from src/config/settings.ts", async (t) => {
  const readme = await fs.readFile(path.join(PROJECT_ROOT, 'README.md'), 'utf8');
  const generated = /<!-- settings:begin[^\n]*-->\n([\s\S]*?)<!-- settings:end -->/.exec(readme)?.[1];
  t.equal(generated?.trimEnd(), settingsMarkdown(), 'regenerate it with: npm run -s dcr -- settings --markdown');
});

t.test('the CLI over a data folder, before and while the server runs', async (t) => {
  const dataDir = await freshDataDir(t, 'dcr-cli-');
  const env = { DCR_DATA_DIR: dataDir, DCR_ADMIN_PASSWORD: ADMIN_PASSWORD };
  const outputs: CliResult[] = [];
  const cli = async (args: string[], input?: string) => {
    const result = await runCli(args, env, input);
    outputs.push(result);
    return result;
  };

  // No server yet: `migrate` starts the embedded cluster itself, and stops it when done.
  const [help, migrated] = await Promise.all([runCli(['--help'], {}), cli(['migrate'])]);
  t.equal(help.code, 0, detail(help));
  for (const command of ['serve', 'migrate', 'user add', 'user list', 'user remove', 'user passwd', 'app list', 'app show', 'keys rotate', 'tokens purge']) {
    t.match(help.stdout, new RegExp(`^  ${command}\\b`, 'm'), `--help lists ${command}`);
  }
  t.match(help.stdout, /^ {2}PORT +9763\b/m, '--help lists PORT with its default');
  t.match(help.stdout, /^ {2}DCR_SECRET_KEY +unset\b/m, '--help lists DCR_SECRET_KEY');
  t.match(help.stdout, /^ {2}DCR_DATA_DIR +\.\/data\b/m, '--help lists DCR_DATA_DIR with its default');

  t.equal(migrated.code, 0, detail(migrated));
  t.match(migrated.stdout, /^applying 001_init$/m, 'a progress line per migration');
  t.match(migrated.stdout, /^applying 002_tokens$/m);
  t.match(migrated.stdout, /^applied \d+ migrations$/m);
  t.notOk(existsSync(path.join(dataDir, 'dcr.pid')), 'the data folder is released');
  t.equal(await postmasterPid(dataDir), undefined, 'the cluster it started is stopped');

  const server = await startServer(t, env);
  const serverPostmaster = await postmasterPid(dataDir);
  t.ok(serverPostmaster, 'the server runs its cluster');

  // Attach mode: the server holds the folder; the CLI uses the server's cluster.
  const added = await cli(['user', 'add', 'bob'], `${BOB_PASSWORD}\n`);
  t.equal(added.code, 0, detail(added));
  t.match(added.stdout, /^created user 'bob' \(id [0-9a-f-]{36}\)$/m);
  t.match(added.stderr, /using the database of the server running on/, 'attached to the running server');
  t.equal(await postmasterPid(dataDir), serverPostmaster, 'no second postgres: the same postmaster');
  t.ok(server.isRunning(), 'the server still runs');

  // bob exists for the server at once.
  const asBob = createDcrClient({ baseUrl: server.baseUrl, authorization: basicAuth('bob', BOB_PASSWORD) });
  const body = { clientName: APP, owner: 'bob', grantType: 'password client_credentials' };
  const registered = await asBob.POST('/register', { body });
  t.equal(registered.response.status, 200, JSON.stringify(registered.error));
  const app = registered.data!;

  // Read-only and failing commands, side by side.
  const [duplicate, noPassword, listed, apps, shown, revealed, unknownApp, removeAdmin] = await Promise.all([
    cli(['user', 'add', 'bob'], `${BOB_PASSWORD}\n`),
    cli(['user', 'add', 'carol']),
    cli(['user', 'list', '--json']),
    cli(['app', 'list']),
    cli(['app', 'show', APP]),
    cli(['app', 'show', APP, '--show-secret', '--json']),
    cli(['app', 'show', 'no_such_app']),
    cli(['user', 'remove', 'admin']),
  ]);
  failsWith(t, duplicate, /^dcr: A user named 'bob' already exists$/m, 'a duplicate user');
  failsWith(t, noPassword, /no password on standard input/, 'no password given');
  failsWith(t, unknownApp, /^dcr: No application named 'no_such_app'$/m, 'an unknown app');
  failsWith(t, removeAdmin, /^dcr: The super admin cannot be deleted$/m, 'removing the super admin');

  t.equal(listed.code, 0, detail(listed));
  const users = JSON.parse(listed.stdout) as { userName: string; superAdmin: boolean }[];
  t.same(
    users.map((u) => [u.userName, u.superAdmin]),
    [
      ['admin', true],
      ['bob', false],
    ],
    'user list --json',
  );

  t.equal(apps.code, 0, detail(apps));
  t.match(apps.stdout, /^NAME +CLIENT ID +OWNER +GRANTS +TOKEN TYPE +CREATED$/m, 'app list');
  t.match(apps.stdout, new RegExp(`^${APP} +${app.clientId} +bob +password client_credentials +${app.tokenType} +\\d{4}-`, 'm'));

  t.equal(shown.code, 0, detail(shown));
  t.match(shown.stdout, new RegExp(`^clientId +${app.clientId}$`, 'm'), 'app show');
  t.match(shown.stdout, /^owner +bob$/m);
  t.match(shown.stdout, /^clientSecret +\(hidden; --show-secret prints it\)$/m, 'the secret is hidden');
  t.equal(revealed.code, 0, detail(revealed));
  t.match(JSON.parse(revealed.stdout), { clientName: APP, clientId: app.clientId, clientSecret: app.clientSecret, owner: 'bob' }, '--show-secret --json');

  const changed = await cli(['user', 'passwd', 'bob'], `${BOB_NEW_PASSWORD}\n`);
  t.equal(changed.code, 0, detail(changed));
  t.equal((await asBob.POST('/register', { body })).response.status, 401, 'the old password stops working at once');
  const withNew = await createDcrClient({ baseUrl: server.baseUrl, authorization: basicAuth('bob', BOB_NEW_PASSWORD) }).POST(
    '/register',
    { body },
  );
  t.equal(withNew.response.status, 200, 'the new one works');
  t.equal(withNew.data?.clientId, app.clientId);

  // No token was issued, so the server has not cached its signing keys: /oauth2/jwks reads them now.
  const rotated = await cli(['keys', 'rotate']);
  t.equal(rotated.code, 0, detail(rotated));
  const kid = rotated.stdout.trim();
  t.match(kid, /^[A-Za-z0-9_-]{43}$/, 'prints the new kid (an RFC 7638 thumbprint)');
  const jwks = await createPlatformClient({ baseUrl: server.baseUrl }).GET('/oauth2/jwks');
  t.equal(jwks.response.status, 200);
  t.equal(jwks.data?.keys.length, 2, 'the new key and the previous one');
  t.ok(jwks.data?.keys.some((key) => key.kid === kid), 'the new kid is published');

  const listedJson = JSON.parse((await cli(['app', 'list', '--json'])).stdout) as Record<string, unknown>[];
  t.equal(listedJson.length, 1);
  t.notOk('clientSecret' in listedJson[0]!, 'no secret in app list --json');
  const removed = await cli(['user', 'remove', 'bob']);
  t.equal(removed.code, 0, detail(removed));
  const [afterRemove, appsAfter] = await Promise.all([cli(['user', 'list']), cli(['app', 'list', '--json'])]);
  t.match(afterRemove.stdout, /^NAME +ID +CREATED/, 'user list');
  t.match(afterRemove.stdout, /^admin +[0-9a-f-]{36} +\S+ +super admin$/m);
  t.notMatch(afterRemove.stdout, /^bob /m, 'bob is gone');
  const appsJson = JSON.parse(appsAfter.stdout) as Record<string, unknown>[];
  t.equal(appsJson.length, 0, "bob's app went with bob (unlike WSO2: a new bob would have inherited it)");
  t.equal((await createDcrClient({ baseUrl: server.baseUrl, authorization: basicAuth('bob', BOB_NEW_PASSWORD) }).POST('/register', { body })).response.status, 401, 'a removed user cannot authenticate');

  const everything = outputs.map((o) => o.stdout + o.stderr).join('\n');
  for (const password of [BOB_PASSWORD, BOB_NEW_PASSWORD, ADMIN_PASSWORD]) {
    t.notOk(everything.includes(password), 'no password is ever printed');
  }
  t.same(
    outputs.filter((o) => o.stdout.includes(app.clientSecret)),
    [revealed],
    'the secret appears only in the --show-secret output',
  );
});
