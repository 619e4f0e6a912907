/**
 * POST /client-registration/v0.17/register on the wire: WSO2's registration rules in their order,
 * the "same name again" path, concurrency, and no partial rows.
 */
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import t, { type Test } from 'tap';
import { ADMIN_AUTH, basic, buildTestApp, createUser } from '../fixtures/app.js';

const REGISTER = '/client-registration/v0.17/register';
type Db = Awaited<ReturnType<typeof buildTestApp>>['db'];

const ALICE_AUTH = basic('alice', 'alice-Pa55word');
const BOB_AUTH = basic('bob', 'bob-Pa55word');
const ALL_GRANTS = [
  'authorization_code',
  'implicit',
  'password',
  'client_credentials',
  'refresh_token',
  'urn:ietf:params:oauth:grant-type:saml2-bearer',
  'urn:ietf:params:oauth:grant-type:jwt-bearer',
  'urn:ietf:params:oauth:grant-type:device_code',
  'urn:ietf:params:oauth:grant-type:token-exchange',
];
const WSO2_TOKEN = /^[A-Za-z0-9_]{28}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

interface DcrResult {
  clientId: string;
  clientSecret: string;
  clientName: string;
  callBackURL: string | null;
  callbackUrl: string | null;
  isSaasApplication: boolean;
  appOwner: string;
  jsonString: string;
  jsonAppAttribute: string;
  applicationUUID: string;
  tokenType: string;
}

function errorBody(code: number, message: string, description: string, error: unknown[] = []) {
  return { code, message, description, moreInfo: '', error };
}

function fieldError(field: string, description: string) {
  return errorBody(400, 'Bad Request', description, [{ code: field, message: description }]);
}

const OWNER_EMPTY = errorBody(400, 'Application owner cannot be empty', 'Application owner cannot be empty', [
  { code: 'owner', message: 'Application owner cannot be empty' },
]);
const FORBIDDEN_APP = errorBody(403, 'Forbidden', 'Access is forbidden to the application');
const NAME_EMPTY = fieldError('clientName', 'Application name (clientName) cannot be empty');
const GRANT_EMPTY = fieldError('grantType', 'Grant type (grantType) cannot be empty');

function noSuchUser(owner: string) {
  const text = `User: ${owner} does not exist for application registration`;
  return errorBody(403, text, text);
}

function notSameUser(caller: string, owner: string) {
  return fieldError('owner', `Logged in user '${caller}' and application owner '${owner}' should be same.`);
}

function badName(name: string) {
  return fieldError(
    'clientName',
    `Application name '${name}' is invalid: it may contain only letters, digits, white space, '.', '_' and '-'`,
  );
}

function grantNotAllowed(grant: string) {
  return fieldError('grantType', `'${grant}' grant type is not allowed.`);
}

function assertError(t: Test, res: LightMyRequestResponse, status: number, body: unknown): void {
  t.equal(res.statusCode, status, res.body);
  t.match(res.headers['content-type'], /^application\/json(;|$)/);
  t.strictSame(res.json(), body);
}

/** A 200 DCRResult; returns it with the stored grants parsed out of jsonString. */
function assertOk(t: Test, res: LightMyRequestResponse): DcrResult & { grants: string; redirectUris: string | null } {
  t.equal(res.statusCode, 200, res.body);
  t.equal(res.headers['cache-control'], 'no-store');
  const body = res.json() as DcrResult;
  t.match(body.clientId, WSO2_TOKEN);
  t.match(body.clientSecret, WSO2_TOKEN);
  t.match(body.applicationUUID, UUID);
  const json = JSON.parse(body.jsonString) as { grant_types: string; redirect_uris: string | null; client_name: string };
  t.strictSame(Object.keys(json).sort(), ['client_name', 'grant_types', 'redirect_uris']);
  t.equal(json.client_name, body.clientName);
  t.equal(json.redirect_uris, body.callBackURL);
  t.equal(body.callbackUrl, body.callBackURL);
  return { ...body, grants: json.grant_types, redirectUris: json.redirect_uris };
}

async function countApps(db: Db): Promise<number> {
  const { rows } = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM applications');
  return rows[0]!.n;
}

function post(app: FastifyInstance, auth: string, payload: unknown) {
  return app.inject({ method: 'POST', url: REGISTER, headers: { authorization: auth }, payload: payload as string });
}

// One app and database for the whole file (subtests run one after another): alice and bob are
// ordinary users; every test names its own applications.
const { app, db } = await buildTestApp(t);
await createUser(app, 'alice', 'alice-Pa55word');
await createUser(app, 'bob', 'bob-Pa55word');

/** Asserts an error answer and that it left no row behind. */
async function rejected(t: Test, auth: string, payload: unknown, status: number, expected: unknown) {
  const before = await countApps(db);
  assertError(t, await post(app, auth, payload), status, expected);
  t.equal(await countApps(db), before, 'no row left behind');
}

t.test('rules, in order', async (t) => {

  t.test('1. owner missing or blank', async (t) => {
    for (const [name, owner] of [
      ['missing', undefined],
      ['empty', ''],
      ['spaces', '   '],
      ['tab and newline', '\t\n'],
      ['null', null],
    ] as const) {
      t.test(name, async (t) => {
        // null is read as no value, as Jackson does: the rule answers, not the type check.
        const payload = { clientName: 'owner_rule_app', grantType: 'password', ...(owner === undefined ? {} : { owner }) };
        await rejected(t, ADMIN_AUTH, payload, 400, OWNER_EMPTY);
        await rejected(t, ALICE_AUTH, payload, 400, OWNER_EMPTY);
      });
    }
  });

  t.test('2. the admin registering for an owner who does not exist: 403', async (t) => {
    await rejected(t, ADMIN_AUTH, { clientName: 'ghost_app', owner: 'ghost', grantType: 'password' }, 403, noSuchUser('ghost'));
    // User names are exact: 'Alice' is not alice.
    await rejected(t, ADMIN_AUTH, { clientName: 'ghost_app', owner: 'Alice', grantType: 'password' }, 403, noSuchUser('Alice'));
    await rejected(t, ADMIN_AUTH, { clientName: 'ghost_app', owner: ' alice', grantType: 'password' }, 403, noSuchUser(' alice'));
  });

  t.test('2. the admin may register for an existing user, and for itself', async (t) => {
    const forAlice = assertOk(t, await post(app, ADMIN_AUTH, { clientName: 'admin_for_alice', owner: 'alice', grantType: 'password' }));
    t.equal(forAlice.appOwner, 'alice');
    const forAdmin = assertOk(t, await post(app, ADMIN_AUTH, { clientName: 'admin_for_admin', owner: 'admin', grantType: 'password' }));
    t.equal(forAdmin.appOwner, 'admin');
  });

  t.test('3. a user registering for someone else: 400', async (t) => {
    await rejected(t, ALICE_AUTH, { clientName: 'alice_for_bob', owner: 'bob', grantType: 'password' }, 400, notSameUser('alice', 'bob'));
    await rejected(t, ALICE_AUTH, { clientName: 'alice_for_admin', owner: 'admin', grantType: 'password' }, 400, notSameUser('alice', 'admin'));
    // Not a 403 like the admin's: the owner's existence is not looked at for a non-admin caller.
    await rejected(t, ALICE_AUTH, { clientName: 'alice_for_ghost', owner: 'ghost', grantType: 'password' }, 400, notSameUser('alice', 'ghost'));
    // Exact and case-sensitive.
    await rejected(t, ALICE_AUTH, { clientName: 'alice_cased', owner: 'Alice', grantType: 'password' }, 400, notSameUser('alice', 'Alice'));
    await rejected(t, ALICE_AUTH, { clientName: 'alice_padded', owner: 'alice ', grantType: 'password' }, 400, notSameUser('alice', 'alice '));
    await rejected(t, BOB_AUTH, { clientName: 'bob_for_alice', owner: 'alice', grantType: 'password' }, 400, notSameUser('bob', 'alice'));
  });

  t.test('3. a user registering for itself: 200', async (t) => {
    const res = assertOk(t, await post(app, ALICE_AUTH, { clientName: 'alice_own', owner: 'alice', grantType: 'password' }));
    t.equal(res.appOwner, 'alice');
  });

  t.test('4. clientName missing, empty or outside ^[\\sa-zA-Z0-9._-]+$', async (t) => {
    await rejected(t, ALICE_AUTH, { owner: 'alice', grantType: 'password' }, 400, NAME_EMPTY);
    await rejected(t, ALICE_AUTH, { clientName: '', owner: 'alice', grantType: 'password' }, 400, NAME_EMPTY);
    await rejected(t, ALICE_AUTH, { clientName: null, owner: 'alice', grantType: 'password' }, 400, NAME_EMPTY);
    for (const name of ['bad/name', 'a*b', 'a:b', 'naïve', 'a@b', '<script>', 'a+b', 'ünïcode']) {
      await rejected(t, ALICE_AUTH, { clientName: name, owner: 'alice', grantType: 'password' }, 400, badName(name));
      await rejected(t, ADMIN_AUTH, { clientName: name, owner: 'alice', grantType: 'password' }, 400, badName(name));
    }
  });

  t.test('4. clientName beginning or ending with white space: 400, nothing stored', async (t) => {
    // 'app' and 'app ' were two applications that look the same in every listing.
    assertOk(t, await post(app, ALICE_AUTH, { clientName: 'padded_app', owner: 'alice', grantType: 'password' }));
    for (const name of ['padded_app ', ' padded_app', '\tpadded_app', 'padded_app\n', '   ']) {
      const description = `Application name '${name}' is invalid: it must not begin or end with white space`;
      await rejected(t, ALICE_AUTH, { clientName: name, owner: 'alice', grantType: 'password' }, 400, fieldError('clientName', description));
    }
  });

  t.test('4. names with spaces, dots, underscores and hyphens are accepted', async (t) => {
    for (const name of ['my app', 'my.app', 'my_app', 'my-app', 'My App.v1_2-final', '007', 'inner  spaces kept']) {
      const res = assertOk(t, await post(app, ALICE_AUTH, { clientName: name, owner: 'alice', grantType: 'password' }));
      t.equal(res.clientName, name, 'the name verbatim');
    }
  });

  t.test('5. grantType missing, empty or not allowed', async (t) => {
    await rejected(t, ALICE_AUTH, { clientName: 'grant_app', owner: 'alice' }, 400, GRANT_EMPTY);
    await rejected(t, ALICE_AUTH, { clientName: 'grant_app', owner: 'alice', grantType: '' }, 400, GRANT_EMPTY);
    await rejected(t, ALICE_AUTH, { clientName: 'grant_app', owner: 'alice', grantType: '   ' }, 400, GRANT_EMPTY);
    await rejected(t, ALICE_AUTH, { clientName: 'grant_app', owner: 'alice', grantType: null }, 400, GRANT_EMPTY);
    await rejected(t, ALICE_AUTH, { clientName: 'grant_app', owner: 'alice', grantType: 'foo_grant' }, 400, grantNotAllowed('foo_grant'));
    await rejected(t, ALICE_AUTH, { clientName: 'grant_app', owner: 'alice', grantType: 'password foo_grant refresh_token' }, 400, grantNotAllowed('foo_grant'));
    await rejected(t, ALICE_AUTH, { clientName: 'grant_app', owner: 'alice', grantType: 'password,refresh_token' }, 400, grantNotAllowed('password,refresh_token'));
    // With a callback authorization_code is kept, so the callback does not excuse an unknown grant.
    await rejected(t, ALICE_AUTH, { clientName: 'grant_app', owner: 'alice', grantType: 'authorization_code foo_grant', callbackUrl: 'https://a/cb' }, 400, grantNotAllowed('foo_grant'));
  });

  t.test('5. every default grant is allowed', async (t) => {
    const res = assertOk(t, await post(app, ALICE_AUTH, {
      clientName: 'all_grants',
      owner: 'alice',
      grantType: ALL_GRANTS.join(' '),
      callbackUrl: 'https://a/cb',
    }));
    t.equal(res.grants, ALL_GRANTS.join(' '));
    // Runs of white space separate grants.
    const spaced = assertOk(t, await post(app, ALICE_AUTH, { clientName: 'spaced_grants', owner: 'alice', grantType: '  password \t refresh_token ' }));
    t.equal(spaced.grants, 'password refresh_token');
  });

  t.test('6. without a callback, authorization_code and implicit are dropped', async (t) => {
    const cases: [string, Record<string, unknown>, string][] = [
      ['absent', {}, 'password refresh_token'],
      ['null', { callbackUrl: null }, 'password refresh_token'],
      ['empty', { callbackUrl: '' }, 'password refresh_token'],
    ];
    for (const [name, extra, grants] of cases) {
      const res = assertOk(t, await post(app, ALICE_AUTH, {
        clientName: `no_callback_${name}`,
        owner: 'alice',
        grantType: 'authorization_code implicit password refresh_token',
        ...extra,
      }));
      t.equal(res.grants, grants, `callback ${name}`);
      t.equal(res.callBackURL, null);
    }
  });

  t.test('6. the drop is case-insensitive', async (t) => {
    const res = assertOk(t, await post(app, ALICE_AUTH, {
      clientName: 'no_callback_cased',
      owner: 'alice',
      grantType: 'AUTHORIZATION_CODE Implicit client_credentials IMPLICIT',
    }));
    t.equal(res.grants, 'client_credentials');
    const { rows } = await db.query<{ grant_types: string[] }>('SELECT grant_types FROM applications WHERE client_name = $1', ['no_callback_cased']);
    t.strictSame(rows, [{ grant_types: ['client_credentials'] }]);
  });

  t.test('6. with a callback the grants are kept as sent', async (t) => {
    const res = assertOk(t, await post(app, ALICE_AUTH, {
      clientName: 'with_callback',
      owner: 'alice',
      grantType: 'authorization_code implicit password',
      callbackUrl: 'https://example.com/cb',
    }));
    t.equal(res.grants, 'authorization_code implicit password');
    t.equal(res.callBackURL, 'https://example.com/cb');
  });

  t.test('a callback with a javascript:, data: or vbscript: scheme: 400 naming callbackUrl, nothing stored', async (t) => {
    for (const [callback, scheme] of [
      ['javascript:alert(document.domain)', 'javascript'],
      [' JavaScript:alert(1)', 'javascript'],
      ['java\tscript:alert(1)', 'javascript'],
      ['data:text/html,<script>alert(1)</script>', 'data'],
      ['VBScript:msgbox(1)', 'vbscript'],
      ['regexp=(https://a/cb|javascript:alert(1))', 'javascript'],
    ] as const) {
      const description = `Callback URL (callbackUrl) must not use the '${scheme}:' scheme`;
      const payload = { clientName: 'script_callback', owner: 'alice', grantType: 'authorization_code', callbackUrl: callback };
      await rejected(t, ALICE_AUTH, payload, 400, fieldError('callbackUrl', description));
    }
  });

  t.test('the callback is stored verbatim, not URL-validated', async (t) => {
    for (const [i, callback] of [
      'regexp=(https://a/cb|https://b/cb)',
      'www.example.com',
      'http://localhost:8080/cb?x=1&y=%20#frag',
      'not a url at all',
      'com.example.app:/oauth2redirect',
    ].entries()) {
      const res = assertOk(t, await post(app, ALICE_AUTH, {
        clientName: `callback_${i}`,
        owner: 'alice',
        grantType: 'authorization_code',
        callbackUrl: callback,
      }));
      t.equal(res.callBackURL, callback);
      t.equal(res.callbackUrl, callback);
      t.equal(res.redirectUris, callback);
      t.equal(res.grants, 'authorization_code');
      const { rows } = await db.query<{ callback_url: string }>('SELECT callback_url FROM applications WHERE client_name = $1', [`callback_${i}`]);
      t.strictSame(rows, [{ callback_url: callback }]);
    }
  });

  t.test('the rules apply in order', async (t) => {
    // 1 before 4 and 5.
    await rejected(t, ADMIN_AUTH, { owner: ' ', clientName: 'bad/name', grantType: 'foo_grant' }, 400, OWNER_EMPTY);
    await rejected(t, ALICE_AUTH, { clientName: 'bad/name' }, 400, OWNER_EMPTY);
    // 2 before 4 and 5.
    await rejected(t, ADMIN_AUTH, { owner: 'ghost', clientName: 'bad/name', grantType: 'foo_grant' }, 403, noSuchUser('ghost'));
    // 3 before 4 and 5.
    await rejected(t, ALICE_AUTH, { owner: 'bob', clientName: 'bad/name', grantType: 'foo_grant' }, 400, notSameUser('alice', 'bob'));
    await rejected(t, ALICE_AUTH, { owner: 'bob' }, 400, notSameUser('alice', 'bob'));
    // 4 before 5.
    await rejected(t, ALICE_AUTH, { owner: 'alice', clientName: 'a*b', grantType: 'foo_grant' }, 400, badName('a*b'));
    await rejected(t, ALICE_AUTH, { owner: 'alice' }, 400, NAME_EMPTY);
    // 4 and 5 before 7: an existing name does not excuse a bad request, nor is its owner told.
    assertOk(t, await post(app, ALICE_AUTH, { owner: 'alice', clientName: 'ordered_existing', grantType: 'password' }));
    await rejected(t, ALICE_AUTH, { owner: 'alice', clientName: 'ordered_existing', grantType: 'foo_grant' }, 400, grantNotAllowed('foo_grant'));
    await rejected(t, BOB_AUTH, { owner: 'bob', clientName: 'ordered_existing', grantType: '' }, 400, GRANT_EMPTY);
    await rejected(t, BOB_AUTH, { owner: 'bob', clientName: 'ordered_existing', grantType: 'password' }, 403, FORBIDDEN_APP);
  });
});

t.test('the same name again', async (t) => {
  const created = assertOk(t, await post(app, ALICE_AUTH, {
    clientName: 'shared',
    owner: 'alice',
    grantType: 'password refresh_token',
    saasApp: true,
    tokenType: 'JWT',
  }));
  t.equal(created.grants, 'password refresh_token');
  const stored = await db.query('SELECT * FROM applications WHERE client_name = $1', ['shared']);
  const count = await countApps(db);

  t.test('the owner gets the stored app; a different body is ignored, nothing is updated', async (t) => {
    for (const body of [
      { clientName: 'shared', owner: 'alice', grantType: 'password refresh_token', saasApp: true, tokenType: 'JWT' },
      { clientName: 'shared', owner: 'alice', grantType: 'client_credentials authorization_code', callbackUrl: 'https://evil/cb', saasApp: false, tokenType: 'DEFAULT', userStoreDomainInSubject: true },
      { clientName: 'shared', owner: 'alice', grantType: 'implicit' },
    ]) {
      const res = await post(app, ALICE_AUTH, body);
      assertOk(t, res);
      t.strictSame(res.json(), {
        clientId: created.clientId,
        clientSecret: created.clientSecret,
        clientName: 'shared',
        callBackURL: null,
        callbackUrl: null,
        isSaasApplication: true,
        appOwner: 'alice',
        jsonString: created.jsonString,
        jsonAppAttribute: '{}',
        applicationUUID: created.applicationUUID,
        tokenType: 'JWT',
      });
    }
    t.strictSame((await db.query('SELECT * FROM applications WHERE client_name = $1', ['shared'])).rows, stored.rows, 'the row is untouched');
    t.equal(await countApps(db), count);
  });

  t.test('the admin registering for the owner gets the owner\'s app', async (t) => {
    const res = await post(app, ADMIN_AUTH, { clientName: 'shared', owner: 'alice', grantType: 'client_credentials' });
    const body = assertOk(t, res);
    t.equal(body.clientId, created.clientId);
    t.equal(body.clientSecret, created.clientSecret);
    t.equal(body.applicationUUID, created.applicationUUID);
    t.equal(body.appOwner, 'alice');
    t.equal(body.grants, 'password refresh_token', 'the stored grants, not the new ones');
  });

  t.test('the admin naming another owner for that name: 403', async (t) => {
    assertError(t, await post(app, ADMIN_AUTH, { clientName: 'shared', owner: 'bob', grantType: 'password' }), 403, FORBIDDEN_APP);
    assertError(t, await post(app, ADMIN_AUTH, { clientName: 'shared', owner: 'admin', grantType: 'password' }), 403, FORBIDDEN_APP);
  });

  t.test('another user: 403', async (t) => {
    const res = await post(app, BOB_AUTH, { clientName: 'shared', owner: 'bob', grantType: 'password' });
    assertError(t, res, 403, FORBIDDEN_APP);
    t.notOk(res.body.includes(created.clientSecret), 'no secret leaked');
    t.notOk(res.body.includes(created.clientId), 'no client id leaked');
  });

  t.test('the admin\'s own app requested by the admin: 200', async (t) => {
    const first = assertOk(t, await post(app, ADMIN_AUTH, { clientName: 'admins_app', owner: 'admin', grantType: 'client_credentials' }));
    const again = assertOk(t, await post(app, ADMIN_AUTH, { clientName: 'admins_app', owner: 'admin', grantType: 'password' }));
    t.strictSame(again, first);
    // The admin's app is the admin's: alice registering for herself under that name is refused.
    assertError(t, await post(app, ALICE_AUTH, { clientName: 'admins_app', owner: 'alice', grantType: 'password' }), 403, FORBIDDEN_APP);
  });

  t.test('the lookup is case-sensitive: another case is another app', async (t) => {
    const other = assertOk(t, await post(app, BOB_AUTH, { clientName: 'Shared', owner: 'bob', grantType: 'password' }));
    t.equal(other.appOwner, 'bob');
    t.not(other.clientId, created.clientId);
    const again = assertOk(t, await post(app, ALICE_AUTH, { clientName: 'shared', owner: 'alice', grantType: 'password' }));
    t.equal(again.clientId, created.clientId);
  });

  t.test('no rows were added by the refused requests', async (t) => {
    // + admins_app and Shared.
    t.equal(await countApps(db), count + 2);
  });
});

t.test('concurrency', async (t) => {
  t.test('100 concurrent first registrations of one name yield one app, returned to all', async (t) => {
    const before = await countApps(db);
    const responses = await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        post(app, ALICE_AUTH, { clientName: 'race', owner: 'alice', grantType: i % 2 ? 'password' : 'client_credentials' }),
      ),
    );
    const statuses = new Set(responses.map((res) => res.statusCode));
    t.strictSame([...statuses], [200], responses.find((res) => res.statusCode !== 200)?.body ?? 'all 200');
    const bodies = responses.map((res) => res.json() as DcrResult);
    t.equal(new Set(bodies.map((body) => body.clientId)).size, 1, 'one clientId');
    t.equal(new Set(bodies.map((body) => body.clientSecret)).size, 1, 'one clientSecret');
    t.equal(new Set(bodies.map((body) => body.applicationUUID)).size, 1, 'one applicationUUID');
    t.equal(new Set(bodies.map((body) => body.jsonString)).size, 1, 'one grant list');
    t.match(bodies[0]!.clientId, WSO2_TOKEN);
    const { rows } = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM applications WHERE client_name = 'race'");
    t.equal(rows[0]!.n, 1, 'exactly one row of that name');
    t.equal(await countApps(db), before + 1, 'exactly one row added');
  });

  t.test('50 concurrent distinct names yield 50 apps', async (t) => {
    const before = await countApps(db);
    const responses = await Promise.all(
      Array.from({ length: 50 }, (_, i) => post(app, ALICE_AUTH, { clientName: `parallel_${i}`, owner: 'alice', grantType: 'password' })),
    );
    t.strictSame([...new Set(responses.map((res) => res.statusCode))], [200]);
    const bodies = responses.map((res) => res.json() as DcrResult);
    t.equal(new Set(bodies.map((body) => body.clientId)).size, 50, '50 client ids');
    t.equal(new Set(bodies.map((body) => body.clientSecret)).size, 50, '50 secrets');
    t.strictSame(bodies.map((body) => body.clientName), Array.from({ length: 50 }, (_, i) => `parallel_${i}`));
    const { rows } = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM applications WHERE client_name LIKE 'parallel\\_%'");
    t.equal(rows[0]!.n, 50);
    t.equal(await countApps(db), before + 50);
  });
});

t.test("a registration racing its owner's deletion: 403, and no app without an owner", async (t) => {
  await createUser(app, 'erin', 'erin-Pa55word');
  const before = await countApps(db);
  // The deletion holds erin's row lock, uncommitted: the registration still finds erin, and its
  // INSERT waits on the foreign key to erin's row (migration 006) until the deletion commits.
  const deleting = await db.connect();
  t.teardown(() => deleting.release());
  await deleting.query('BEGIN');
  await deleting.query("DELETE FROM users WHERE username = 'erin'");
  const registering = post(app, ADMIN_AUTH, { clientName: 'erin_race_app', owner: 'erin', grantType: 'client_credentials' });
  const waiting = async () =>
    ((await db.query("SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%INSERT INTO applications%'")).rowCount ?? 0) > 0;
  let blocked = false;
  for (let i = 0; i < 100 && !blocked; i++) {
    blocked = await waiting();
    if (!blocked) await new Promise((resolve) => setTimeout(resolve, 20));
  }
  t.ok(blocked, "the registration's INSERT waits for the deletion");
  await deleting.query('COMMIT');
  const res = await registering;
  t.equal(res.statusCode, 403);
  t.strictSame(res.json(), errorBody(403, 'User: erin does not exist for application registration', 'User: erin does not exist for application registration'));
  t.equal(await countApps(db), before, 'no app was left behind');
});
