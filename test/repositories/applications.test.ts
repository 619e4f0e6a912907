/**
 * PgApplicationRepository against a real, migrated PostgreSQL: one database for this file, emptied
 * before each test (subtests run one at a time), so that no test sees another's rows.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import t from 'tap';
import { randomWso2Token } from '../../src/crypto/random.js';
import { SecretBox } from '../../src/crypto/secret-box.js';
import { SUPER_TENANT } from '../../src/domain/tenants.js';
import type { NewApplication, NewIsApplication } from '../../src/domain/types.js';
import { PgApplicationRepository } from '../../src/repositories/applications.js';
import { insertUser, testDatabase } from '../fixtures/db.js';

const { db, appDb } = await testDatabase(t);
// The super tenant's apps; the repositories run as the server's do (dcr_app, row security), with
// the owner for the young table's ANALYZE.
const T = SUPER_TENANT.id;
/** The owner of the apps below: every app references its owner's row (migration 006). */
const ADMIN_ID = await insertUser(db, 'admin');

function newApp(overrides: Partial<NewApplication> = {}): NewApplication {
  return {
    id: randomUUID(),
    tenantId: T,
    clientId: randomWso2Token(),
    clientSecret: randomWso2Token(),
    clientName: 'rest_api_publisher',
    owner: 'admin',
    ownerId: ADMIN_ID,
    grantTypes: ['client_credentials', 'password', 'refresh_token'],
    callbackUrl: null,
    saasApp: false,
    tokenType: 'DEFAULT',
    userStoreDomainInSubject: false,
    ...overrides,
  };
}

t.beforeEach(async () => {
  await db.query('TRUNCATE applications CASCADE');
});

/** A repository with a key of its own. */
function setup() {
  const secrets = new SecretBox(randomBytes(32));
  return { secrets, repo: new PgApplicationRepository(appDb, secrets, db) };
}

/** setup(), over a database that counts the statements the repository sends (`statements.count`). */
function countingSetup() {
  const statements = { count: 0 };
  const counting = Object.assign(Object.create(appDb) as typeof appDb, {
    query: ((...args: Parameters<typeof appDb.query>) => {
      statements.count++;
      return appDb.query(...args);
    }) as typeof appDb.query,
    queryIn: ((...args: Parameters<typeof appDb.queryIn>) => {
      statements.count++;
      return appDb.queryIn(...args);
    }) as typeof appDb.queryIn,
  });
  return { statements, repo: new PgApplicationRepository(counting, new SecretBox(randomBytes(32)), db) };
}

/** The app inserted under a free name, or undefined when the name was taken (insertOrFind's outcome, as a plain insert). */
async function insertIfNameFree(repo: PgApplicationRepository, app: NewApplication) {
  const outcome = await repo.insertOrFind(app);
  return outcome?.created ? outcome.application : undefined;
}

t.test('insertIfNameFree returns the stored app, read back by findByName', async (t) => {
  const { repo } = setup();
  const app = newApp({
    callbackUrl: 'regexp=(https://a/cb|https://b/cb)',
    grantTypes: ['authorization_code', 'implicit'],
    saasApp: true,
    tokenType: 'JWT',
    userStoreDomainInSubject: true,
  });
  const inserted = await insertIfNameFree(repo, app);
  t.ok(inserted);
  t.match(inserted, app, 'every field as given, the secret decrypted');
  t.type(inserted!.createdAt, Date);
  t.ok(Math.abs(inserted!.createdAt.getTime() - Date.now()) < 60_000, 'created just now');

  const found = await repo.findByName(T, app.clientName);
  t.same(found, inserted);
  t.equal(await repo.count(T), 1);
});

t.test('a null callback and default flags round-trip', async (t) => {
  const { repo } = setup();
  const app = newApp({ grantTypes: [] });
  const inserted = await insertIfNameFree(repo, app);
  t.equal(inserted?.callbackUrl, null);
  t.same(inserted?.grantTypes, []);
  t.equal(inserted?.saasApp, false);
  t.equal(inserted?.userStoreDomainInSubject, false);
});

t.test('a second insert of the same name returns undefined and leaves the first', async (t) => {
  const { repo } = setup();
  const first = newApp({ owner: 'alice' });
  const second = newApp({ owner: 'bob', grantTypes: ['password'], tokenType: 'JWT' });
  t.ok(await insertIfNameFree(repo, first));
  t.equal(await insertIfNameFree(repo, second), undefined);
  const stored = await repo.findByName(T, first.clientName);
  t.equal(stored?.id, first.id);
  t.equal(stored?.clientId, first.clientId);
  t.equal(stored?.clientSecret, first.clientSecret);
  t.equal(stored?.owner, 'alice');
  t.same(stored?.grantTypes, first.grantTypes);
  t.equal(await repo.count(T), 1);
});

t.test('names are unique exactly: other case and white space are other names', async (t) => {
  const { repo } = setup();
  for (const clientName of ['MyApp', 'myapp', 'MYAPP', 'MyApp ', ' MyApp']) {
    t.ok(await insertIfNameFree(repo, newApp({ clientName })), JSON.stringify(clientName));
  }
  t.equal(await repo.count(T), 5);
});

t.test('findByName is exact and case-sensitive', async (t) => {
  const { repo } = setup();
  const app = newApp({ clientName: 'MyApp' });
  await insertIfNameFree(repo, app);
  t.equal((await repo.findByName(T, 'MyApp'))?.id, app.id);
  for (const other of ['myapp', 'MYAPP', 'MyApp ', 'MyAp', 'MyApp%', 'My_pp', '']) {
    t.equal(await repo.findByName(T, other), undefined, JSON.stringify(other));
  }
});

t.test('findByName of an unknown name is undefined', async (t) => {
  const { repo } = setup();
  t.equal(await repo.findByName(T, 'nothing'), undefined);
  t.equal(await repo.count(T), 0);
});

t.test('the secret is stored encrypted and decrypted on read', async (t) => {
  const { repo, secrets } = setup();
  const app = newApp();
  await insertIfNameFree(repo, app);
  const { rows } = await db.query<{ client_secret_enc: string }>(
    'SELECT client_secret_enc FROM applications WHERE client_name = $1',
    [app.clientName],
  );
  const raw = rows[0]!.client_secret_enc;
  t.ok(raw.startsWith('v1.'), raw);
  t.notOk(raw.includes(app.clientSecret), 'the plaintext secret is not in the column');
  t.equal(raw.split('.')[1], secrets.currentKid);
  t.equal(secrets.open(raw, app.clientId), app.clientSecret, 'sealed with the client id as aad');

  const { rows: dump } = await db.query<{ row: string }>('SELECT applications::text AS row FROM applications');
  t.notOk(dump[0]!.row.includes(app.clientSecret), 'nowhere in the row');
  t.equal((await repo.findByName(T, app.clientName))?.clientSecret, app.clientSecret);
});

t.test('an envelope copied onto another row does not open', async (t) => {
  const { repo } = setup();
  const a = newApp({ clientName: 'a' });
  const b = newApp({ clientName: 'b' });
  await insertIfNameFree(repo, a);
  await insertIfNameFree(repo, b);
  await db.query(
    `UPDATE applications SET client_secret_enc = (SELECT client_secret_enc FROM applications WHERE client_name = 'a')
     WHERE client_name = 'b'`,
  );
  await t.rejects(repo.findByName(T, 'b'));
  t.equal((await repo.findByName(T, 'a'))?.clientSecret, a.clientSecret);
});

t.test('a repository with another key cannot read the secrets, and says why', async (t) => {
  const { repo } = setup();
  await insertIfNameFree(repo, newApp());
  const otherKey = new PgApplicationRepository(appDb, new SecretBox(randomBytes(32)), db);
  await t.rejects(otherKey.findByName(T, 'rest_api_publisher'), /No key with id .* in the keyring/);
});

t.test('concurrent first inserts of one name: exactly one wins', async (t) => {
  const { repo } = setup();
  const attempts = Array.from({ length: 20 }, (_, i) => newApp({ clientName: 'contested', owner: `user${i}` }));
  const results = await Promise.all(attempts.map((app) => insertIfNameFree(repo, app)));
  const winners = results.filter((result) => result !== undefined);
  t.equal(winners.length, 1, 'one defined result');
  t.equal(results.filter((result) => result === undefined).length, 19, 'nineteen undefined');
  const stored = await repo.findByName(T, 'contested');
  t.equal(stored?.id, winners[0]!.id);
  t.equal(stored?.clientSecret, winners[0]!.clientSecret);
  t.equal(await repo.count(T), 1);
});

t.test('concurrent inserts of different names all succeed', async (t) => {
  const { repo } = setup();
  const apps = Array.from({ length: 20 }, (_, i) => newApp({ clientName: `app ${i}` }));
  const results = await Promise.all(apps.map((app) => insertIfNameFree(repo, app)));
  t.ok(results.every((result) => result !== undefined));
  t.equal(await repo.count(T), 20);
});

t.test('a clash on client id is an error, not a silent undefined', async (t) => {
  // ON CONFLICT names only the client name constraint: another unique violation must surface.
  const { repo } = setup();
  const first = newApp({ clientName: 'one' });
  await insertIfNameFree(repo, first);
  await t.rejects(insertIfNameFree(repo, newApp({ clientName: 'two', clientId: first.clientId })), {
    name: 'UniqueViolation',
    constraint: 'applications_client_id_key',
  });
  t.equal(await repo.count(T), 1);
});

t.test('insertOrFind inserts a new name, and returns the stored app for a taken one', async (t) => {
  const { repo } = setup();
  const first = newApp({ clientName: 'once' });
  const created = await repo.insertOrFind(first);
  t.equal(created?.created, true);
  t.match(created?.application, { id: first.id, clientId: first.clientId, clientSecret: first.clientSecret, clientName: 'once' });
  t.type(created?.application.createdAt, Date);
  const stored = await repo.findByName(T, 'once');
  t.same(created?.application, stored, 'what it returns is what was stored (secret included)');

  const again = await repo.insertOrFind(newApp({ clientName: 'once', owner: 'someone else' }));
  t.equal(again?.created, false);
  t.same(again?.application, stored, 'the stored app, not the one offered');
  t.equal(await repo.count(T), 1, 'nothing inserted for a taken name');
});

t.test('concurrent insertOrFind of one name: exactly one creates, the others find it or must re-read', async (t) => {
  const { repo } = setup();
  const attempts = Array.from({ length: 20 }, (_, i) => newApp({ clientName: 'contested', owner: `user${i}` }));
  const results = await Promise.all(attempts.map((app) => repo.insertOrFind(app)));
  const creators = results.filter((result) => result?.created);
  t.equal(creators.length, 1, 'one creator');
  const winner = creators[0]!.application;
  for (const result of results) {
    // undefined: the name was committed after that statement's snapshot (the caller re-reads).
    if (result && !result.created) t.equal(result.application.id, winner.id, 'a finder sees the winner');
  }
  t.equal((await repo.findByName(T, 'contested'))?.clientSecret, winner.clientSecret);
  t.equal(await repo.count(T), 1);
});

t.test('insertOrFind: a clash on client id is an error', async (t) => {
  const { repo } = setup();
  const first = newApp({ clientName: 'one' });
  await repo.insertOrFind(first);
  await t.rejects(repo.insertOrFind(newApp({ clientName: 'two', clientId: first.clientId })), {
    name: 'UniqueViolation',
    constraint: 'applications_client_id_key',
  });
});

t.test('a burst of insertOrFind: one statement, each call answered for its own, a bad one fails alone', async (t) => {
  const { repo, statements } = countingSetup();
  await repo.insertOrFind(newApp({ clientName: 'taken-before' }));
  const clash = newApp({ clientName: 'clashing-client-id' });
  await repo.insertOrFind(clash);
  statements.count = 0;

  const distinct = Array.from({ length: 30 }, (_, i) => newApp({ clientName: `burst-${i}` }));
  const twice = [newApp({ clientName: 'asked-twice' }), newApp({ clientName: 'asked-twice', owner: 'other' })];
  const stored = newApp({ clientName: 'taken-before' });
  const bad = newApp({ clientName: 'bad', clientId: clash.clientId });
  const results = await Promise.allSettled([...distinct, ...twice, stored, bad].map((app) => repo.insertOrFind(app)));

  // The batch failed on the clashing client id, then each call was tried on its own.
  t.equal(statements.count, 1 + 34, 'one statement for the burst, then one per call after its failure');
  const [bursts, [first, second, old, failed]] = [results.slice(0, 30), results.slice(30)] as const;
  bursts.forEach((result, i) => t.match(result, { status: 'fulfilled', value: { created: true, application: { id: distinct[i]!.id } } }));
  // Tried alone after the batch failed, the two calls of one name race as two requests would: one
  // creates; the other finds its app, or must re-read (undefined: created after its snapshot).
  const pair = [first, second].map((result) => (result?.status === 'fulfilled' ? result.value : null));
  const creators = pair.filter((result) => result?.created);
  t.equal(creators.length, 1, 'one of the two calls of a name creates it');
  const other = pair.find((result) => !result?.created);
  t.ok(other === undefined || other?.application.id === creators[0]?.application.id, 'the other finds it or must re-read');
  t.match(old, { status: 'fulfilled', value: { created: false, application: { clientName: 'taken-before' } } });
  t.match(failed, { status: 'rejected', reason: { name: 'UniqueViolation', constraint: 'applications_client_id_key' } });
  t.equal(await repo.count(T), 2 + 30 + 1, 'every good name stored once, nothing of the bad one');
});

t.test('a burst without a bad item is one statement; a name asked twice is one row, the second call finds it', async (t) => {
  const { repo, statements } = countingSetup();
  const apps = [newApp({ clientName: 'a' }), newApp({ clientName: 'b' }), newApp({ clientName: 'a', owner: 'other' })];
  const [a, b, again] = await Promise.all(apps.map((app) => repo.insertOrFind(app)));
  t.equal(statements.count, 1);
  t.match(a, { created: true, application: { id: apps[0]!.id, clientSecret: apps[0]!.clientSecret } });
  t.match(b, { created: true, application: { id: apps[1]!.id } });
  t.same(again, { created: false, application: a!.application }, 'the app stored under the name, not the one offered');
  t.same((await repo.findByName(T, 'a'))?.clientSecret, apps[0]!.clientSecret);
  t.equal(await repo.count(T), 2);
});

t.test('bursts over the same names in opposite orders (two instances) neither deadlock nor fail', async (t) => {
  // Two repositories stand for two server processes: each sends its burst as one statement, and
  // the two statements insert the same names. Without one order for the names, each could hold a
  // name the other waits for: a deadlock, answered 503.
  const { secrets } = setup();
  const names = Array.from({ length: 40 }, (_, i) => `shared-${String(i).padStart(2, '0')}`);
  for (let round = 0; round < 5; round++) {
    await db.query('TRUNCATE applications CASCADE');
    const one = new PgApplicationRepository(appDb, secrets, db);
    const other = new PgApplicationRepository(appDb, secrets, db);
    const results = await Promise.allSettled([
      ...names.map((clientName) => one.insertOrFind(newApp({ clientName }))),
      ...[...names].reverse().map((clientName) => other.insertOrFind(newApp({ clientName }))),
    ]);
    const failed = results.filter((result) => result.status === 'rejected');
    t.same(failed, [], `round ${round}: no call failed`);
    t.equal(await one.count(T), names.length, `round ${round}: one app per name`);
  }
});

/** An IS DCR v1.1 app: the shared fields, its own lifetimes and IS metadata. */
function newIsApp(overrides: Partial<NewIsApplication> = {}): NewIsApplication {
  return {
    ...newApp({ clientName: 'is_app', tokenType: 'JWT' }),
    lifetimes: { applicationToken: 120, userToken: null, refreshToken: 600 },
    metadata: { ext_application_display_name: 'Pizza', ext_pkce_mandatory: false, contacts: ['a@b.c'] },
    ...overrides,
  };
}

t.test('migration 010: a v0.17 app has no lifetimes and no IS metadata', async (t) => {
  const { repo } = setup();
  const app = await insertIfNameFree(repo, newApp());
  t.same(app!.lifetimes, { applicationToken: null, userToken: null, refreshToken: null }, 'as inserted');
  t.same((await repo.findByClientId(T, app!.clientId))!.lifetimes, { applicationToken: null, userToken: null, refreshToken: null }, 'as read');
  const is = await repo.findIsByClientId(T, app!.clientId);
  t.same(is!.metadata, {}, 'no IS metadata');
  t.same(await repo.findIsByName(T, app!.clientName), is, 'by name too');
});

t.test('createIs stores the lifetimes as columns and the IS metadata as jsonb; both are read back', async (t) => {
  const { repo, secrets } = setup();
  const app = newIsApp();
  const created = await repo.createIs(app);
  t.match(created, { ...app, metadata: app.metadata }, 'what was given');
  t.same(await repo.findIsByClientId(T, app.clientId), created, 'read back by client id, the secret opened');
  t.same(await repo.findIsByName(T, 'is_app'), created, 'and by name');
  const client = await repo.findByClientId(T, app.clientId);
  t.same(client!.lifetimes, app.lifetimes, 'the token path reads the lifetimes');
  t.notOk('metadata' in client!, 'but not the IS metadata');
  const { rows } = await db.query<{ client_secret_enc: string; application_token_lifetime: number; is_metadata: unknown }>(
    'SELECT client_secret_enc, application_token_lifetime, is_metadata FROM applications WHERE id = $1',
    [app.id],
  );
  t.equal(secrets.open(rows[0]!.client_secret_enc, app.clientId), app.clientSecret, 'the secret sealed as v0.17 seals it');
  t.equal(rows[0]!.application_token_lifetime, 120);
  t.same(rows[0]!.is_metadata, app.metadata);
  t.equal(await repo.findIsByClientId(T, 'a\u0000b'), undefined, 'NUL: nothing, not 22021');
});

t.test('createIs: a taken name or client id is a UniqueViolation naming its constraint, and nothing is inserted', async (t) => {
  const { repo } = setup();
  await repo.createIs(newIsApp());
  await t.rejects(repo.createIs(newIsApp({ id: randomUUID(), clientId: randomWso2Token() })), {
    name: 'UniqueViolation',
    constraint: 'applications_client_name_key',
  });
  const first = await repo.findIsByName(T, 'is_app');
  await t.rejects(repo.createIs(newIsApp({ id: randomUUID(), clientName: 'other', clientId: first!.clientId })), {
    name: 'UniqueViolation',
    constraint: 'applications_client_id_key',
  });
  await t.rejects(repo.createIs(newIsApp({ id: randomUUID(), clientName: 'orphan', clientId: randomWso2Token(), ownerId: randomUUID() })), {
    name: 'ForeignKeyViolation',
    constraint: 'applications_owner_id_fkey',
  });
  await t.rejects(
    repo.createIs(newIsApp({ id: randomUUID(), clientName: 'zero', clientId: randomWso2Token(), lifetimes: { applicationToken: 0, userToken: null, refreshToken: null } })),
    /applications_application_token_lifetime_positive/,
    'a stored lifetime is positive (0 is the default, stored as NULL)',
  );
  t.equal(await repo.count(T), 1);
});

t.test('updateIs replaces everything but ids and secret; deleteById takes the tokens with the app', async (t) => {
  const { repo } = setup();
  const app = await repo.createIs(newIsApp());
  const updated = await repo.updateIs({
    id: app.id,
    tenantId: app.tenantId,
    clientName: 'renamed',
    owner: app.owner,
    ownerId: app.ownerId,
    grantTypes: ['client_credentials'],
    callbackUrl: 'https://a/cb',
    saasApp: false,
    tokenType: 'DEFAULT',
    userStoreDomainInSubject: false,
    lifetimes: { applicationToken: null, userToken: 30, refreshToken: null },
    metadata: { ext_public_client: true },
  });
  t.match(updated, {
    id: app.id,
    clientId: app.clientId,
    clientSecret: app.clientSecret,
    clientName: 'renamed',
    grantTypes: ['client_credentials'],
    callbackUrl: 'https://a/cb',
    tokenType: 'DEFAULT',
    lifetimes: { applicationToken: null, userToken: 30, refreshToken: null },
  });
  t.same(updated!.metadata, { ext_public_client: true }, 'the metadata replaced, not merged');
  t.equal(await repo.updateIs({ ...updated!, id: randomUUID() }), undefined, 'no such app: undefined');

  await db.query(
    `INSERT INTO access_tokens (id, app_id, user_id, scopes, grant_type, expires_at) VALUES ($1, $2, $3, '{default}', 'client_credentials', now() + interval '1 hour')`,
    [randomUUID(), app.id, ADMIN_ID],
  );
  t.equal(await repo.deleteById(T, app.id), true);
  t.equal(await repo.deleteById(T, app.id), false, 'already gone');
  const { rows } = await db.query<{ n: string }>('SELECT count(*) AS n FROM access_tokens WHERE app_id = $1', [app.id]);
  t.equal(rows[0]!.n, '0', 'its tokens went with it');
});
