/**
 * PgUserRepository against a real, migrated PostgreSQL: one database for this file, emptied
 * before each test (subtests run one at a time), so that no test sees another's rows.
 */
import { randomUUID } from 'node:crypto';
import t from 'tap';
import { SUPER_TENANT } from '../../src/domain/tenants.js';
import { DuplicateUserName, PgUserRepository } from '../../src/repositories/users.js';
import { testDatabase } from '../fixtures/db.js';

const HASH = '$scrypt$ln=10,r=8,p=1$c2FsdHNhbHRzYWx0c2FsdA$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U';

const { db, appDb } = await testDatabase(t);
// As the server runs it: dcr_app, held to row security, within the super tenant.
const users = new PgUserRepository(appDb);
const T = SUPER_TENANT.id;
t.beforeEach(async () => {
  await db.query('TRUNCATE users CASCADE');
});

function newUser(username: string) {
  return { id: randomUUID(), username, passwordHash: HASH };
}

t.test('create returns the stored user; findByUsername and findById read it back', async (t) => {
  const input = newUser('alice');
  const created = await users.create(T, input);
  t.match(created, { id: input.id, username: 'alice', passwordHash: HASH });
  t.type(created.createdAt, Date);
  t.type(created.updatedAt, Date);
  t.same(await users.findByUsername(T, 'alice'), created);
  t.same(await users.findById(T, input.id), created);
  t.same(await users.findById(T, input.id.toUpperCase()), created, 'a UUID in upper case names the same user');
});

t.test('findByUsername is exact and case-sensitive', async (t) => {
  await users.create(T, newUser('Alice'));
  t.ok(await users.findByUsername(T, 'Alice'));
  for (const other of ['alice', 'ALICE', 'Alice ', ' Alice', 'Alic', 'A%', '']) {
    t.equal(await users.findByUsername(T, other), undefined, JSON.stringify(other));
  }
});

t.test('findById: unknown and non-UUID ids are undefined, never a throw', async (t) => {
  await users.create(T, newUser('alice'));
  const ids = [randomUUID(), 'not-a-uuid', '', '1', "'; DROP TABLE users; --", '00000000-0000-0000-0000-00000000000g', `${randomUUID()}x`];
  for (const id of ids) {
    t.equal(await users.findById(T, id), undefined, JSON.stringify(id));
  }
});

t.test('duplicate usernames are DuplicateUserName, also when differing only in case', async (t) => {
  await users.create(T, newUser('alice'));
  for (const username of ['alice', 'Alice', 'ALICE', 'aLiCe']) {
    await t.rejects(users.create(T, newUser(username)), DuplicateUserName, username);
  }
  await t.rejects(users.create(T, newUser('ALICE')), { name: 'DuplicateUserName', message: 'ALICE' });
  t.equal((await users.list(T, 0, 10)).total, 1, 'nothing added');
  t.ok(await users.create(T, newUser('alice2')), 'a different name is fine');
});

t.test('a clash on id is rejected and changes nothing', async (t) => {
  const alice = newUser('alice');
  await users.create(T, alice);
  // Ids are fresh UUIDs from the service, so this cannot happen in practice; note that the
  // repository reports any unique violation on create as DuplicateUserName, this one included.
  await t.rejects(users.create(T, { ...newUser('bob'), id: alice.id }));
  t.equal(await users.findByUsername(T, 'bob'), undefined);
  t.equal((await users.findById(T, alice.id))?.username, 'alice');
});

t.test('concurrent creates of one name (any case): exactly one wins', async (t) => {
  const names = Array.from({ length: 10 }, (_, i) => (i % 2 === 0 ? 'carol' : 'CAROL'));
  const results = await Promise.allSettled(names.map((name) => users.create(T, newUser(name))));
  t.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
  for (const r of results) {
    if (r.status === 'rejected') t.type(r.reason, DuplicateUserName);
  }
});

t.test('setPasswordHash replaces the hash and bumps updatedAt', async (t) => {
  const created = await users.create(T, newUser('alice'));
  await new Promise((resolve) => setTimeout(resolve, 20));
  await users.setPasswordHash(T, created.id, '$scrypt$ln=10,r=8,p=1$bmV3$bmV3');
  const updated = await users.findById(T, created.id);
  t.equal(updated?.passwordHash, '$scrypt$ln=10,r=8,p=1$bmV3$bmV3');
  t.ok(updated!.updatedAt.getTime() > created.updatedAt.getTime(), 'updatedAt moved');
  t.same(updated!.createdAt, created.createdAt, 'createdAt kept');
  await t.resolves(users.setPasswordHash(T, randomUUID(), HASH), 'an unknown id is a no-op');
});

t.test('delete', async (t) => {
  const alice = await users.create(T, newUser('alice'));
  const bob = await users.create(T, newUser('bob'));
  t.equal(await users.delete(T, alice.id), true);
  t.equal(await users.findById(T, alice.id), undefined);
  t.equal(await users.findByUsername(T, 'alice'), undefined);
  t.equal(await users.delete(T, alice.id), false, 'twice: nothing left to delete');
  t.equal(await users.delete(T, randomUUID()), false, 'unknown id');
  t.equal(await users.delete(T, 'not-a-uuid'), false, 'non-UUID id, no throw');
  t.ok(await users.findById(T, bob.id), 'others untouched');
  t.ok(await users.create(T, newUser('Alice')), 'the name is free again');
});

t.test('list: ordered by creation, offset and limit, total of all users', async (t) => {
  const empty = await users.list(T, 0, 10);
  t.same(empty, { total: 0, users: [] });

  const names = ['u0', 'u1', 'u2', 'u3', 'u4'];
  for (const name of names) await users.create(T, newUser(name));

  const cases: [number, number, string[]][] = [
    [0, 10, names],
    [0, 2, ['u0', 'u1']],
    [2, 2, ['u2', 'u3']],
    [4, 2, ['u4']],
    [5, 2, []],
    [100, 10, []],
    [0, 0, []],
    [1, 0, []],
  ];
  for (const [offset, limit, expected] of cases) {
    const page = await users.list(T, offset, limit);
    t.same(
      page.users.map((user) => user.username),
      expected,
      `offset ${offset}, limit ${limit}`,
    );
    t.equal(page.total, 5, `total with offset ${offset}, limit ${limit}`);
  }
  const [first] = (await users.list(T, 0, 1)).users;
  t.match(first, { username: 'u0', passwordHash: HASH });
});
