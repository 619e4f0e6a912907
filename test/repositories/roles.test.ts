/**
 * PgRoleRepository against a real, migrated PostgreSQL (migration 009): one database for this
 * file, emptied before each test, so that no test sees another's rows.
 */
import { randomUUID } from 'node:crypto';
import t from 'tap';
import { SUPER_TENANT } from '../../src/domain/tenants.js';
import { DuplicateRoleName, PgRoleRepository, UnknownRoleMember } from '../../src/repositories/roles.js';
import { insertUser, testDatabase } from '../fixtures/db.js';

const { db, appDb } = await testDatabase(t);
// As the server runs it: dcr_app, held to row security, within the super tenant.
const roles = new PgRoleRepository(appDb);
const T = SUPER_TENANT.id;
t.beforeEach(async () => {
  await db.query('TRUNCATE roles, users CASCADE');
});

function newRole(displayName: string, userIds: string[] = [], permissions: string[] = []) {
  return { id: randomUUID(), displayName, userIds, permissions };
}

async function count(table: string): Promise<number> {
  const { rows } = await db.query<{ n: string }>(`SELECT count(*) AS n FROM ${table}`);
  return Number(rows[0]!.n);
}

t.test('the tables are as the scope rule joins them', async (t) => {
  const { rows } = await db.query<{ table_name: string; column_name: string; data_type: string; is_nullable: string }>(
    `SELECT table_name, column_name, data_type, is_nullable FROM information_schema.columns
     WHERE table_name IN ('roles', 'role_users', 'role_permissions') ORDER BY table_name, ordinal_position`,
  );
  t.strictSame(
    rows.map((row) => `${row.table_name}.${row.column_name} ${row.data_type} ${row.is_nullable}`),
    [
      'role_permissions.role_id uuid NO',
      'role_permissions.scope_name text NO',
      'role_permissions.tenant_id integer NO',
      'role_users.role_id uuid NO',
      'role_users.user_id uuid NO',
      'role_users.tenant_id integer NO',
      'roles.id uuid NO',
      'roles.display_name text NO',
      'roles.created_at timestamp with time zone NO',
      'roles.updated_at timestamp with time zone NO',
      'roles.tenant_id integer NO',
    ],
  );
  const indexes = await db.query<{ indexname: string }>(
    `SELECT indexname FROM pg_indexes WHERE tablename IN ('roles', 'role_users', 'role_permissions') ORDER BY indexname`,
  );
  t.strictSame(
    indexes.rows.map((row) => row.indexname),
    ['role_permissions_pkey', 'role_permissions_scope_name_idx', 'role_users_pkey', 'role_users_user_id_idx', 'roles_display_name_key', 'roles_pkey'],
  );
  // No reference from a permission to any scope table: a role may name a scope defined later.
  const fks = await db.query<{ conname: string }>(
    `SELECT conname FROM pg_constraint WHERE contype = 'f' AND conrelid::regclass::text IN ('role_users', 'role_permissions') ORDER BY conname`,
  );
  t.strictSame(fks.rows.map((row) => row.conname), ['role_permissions_role_id_fkey', 'role_users_role_id_fkey', 'role_users_user_id_fkey']);
});

t.test('create returns the stored role with its users (by name) and permissions (sorted); findById reads it back', async (t) => {
  const bob = await insertUser(db, 'bob');
  const alice = await insertUser(db, 'Alice');
  const input = newRole('creator', [bob, alice, bob], ['apim:api_view', 'apim:api_create', 'apim:api_view']);
  const created = await roles.create(T, input);
  t.match(created, {
    id: input.id,
    displayName: 'creator',
    users: [
      { id: alice, username: 'Alice' },
      { id: bob, username: 'bob' },
    ],
    permissions: ['apim:api_create', 'apim:api_view'],
  });
  t.type(created.createdAt, Date);
  t.same(created.createdAt, created.updatedAt);
  t.same(await roles.findById(T, input.id), created);
  t.same(await roles.findById(T, input.id.toUpperCase()), created, 'a UUID in upper case names the same role');
  t.same(await roles.findByDisplayName(T, 'creator'), created);
});

t.test('a role with neither users nor permissions', async (t) => {
  const created = await roles.create(T, newRole('empty'));
  t.strictSame([created.users, created.permissions], [[], []]);
});

t.test('findById and findByDisplayName: unknown or malformed keys are undefined, never a throw', async (t) => {
  await roles.create(T, newRole('creator'));
  for (const id of [randomUUID(), 'not-a-uuid', '', "'; DROP TABLE roles; --", `${randomUUID()}x`]) {
    t.equal(await roles.findById(T, id), undefined, JSON.stringify(id));
  }
  for (const name of ['Creator', 'creator ', 'creato', '', 'nul\u0000']) {
    t.equal(await roles.findByDisplayName(T, name), undefined, `${JSON.stringify(name)}: exact`);
  }
});

t.test('a taken name is DuplicateRoleName, and nothing of the second role is stored', async (t) => {
  const user = await insertUser(db, 'alice');
  await roles.create(T, newRole('creator'));
  await t.rejects(roles.create(T, newRole('creator', [user], ['a'])), DuplicateRoleName);
  t.strictSame([await count('roles'), await count('role_users'), await count('role_permissions')], [1, 0, 0]);
  t.ok(await roles.create(T, newRole('Creator')), 'names are unique as written: another case is another name');
});

t.test('a member whose user is gone is UnknownRoleMember, and the role is not created', async (t) => {
  await t.rejects(roles.create(T, newRole('creator', [randomUUID()])), UnknownRoleMember);
  t.equal(await count('roles'), 0);
});

t.test('update applies the changes in order, in one transaction', async (t) => {
  const [alice, bob, carol] = [await insertUser(db, 'alice'), await insertUser(db, 'bob'), await insertUser(db, 'carol')];
  const { id, updatedAt } = await roles.create(T, newRole('creator', [alice], ['a', 'b']));
  await new Promise((resolve) => setTimeout(resolve, 5));
  const updated = await roles.update(T, id, [
    { attribute: 'users', action: 'add', values: [bob, carol, alice] },
    { attribute: 'users', action: 'remove', values: [alice] },
    { attribute: 'permissions', action: 'set', values: ['c', 'd'] },
    { attribute: 'permissions', action: 'add', values: ['e', 'c'] },
    { attribute: 'permissions', action: 'remove', values: ['d', 'never-there'] },
    { attribute: 'displayName', value: 'publisher' },
  ]);
  t.match(updated, { id, displayName: 'publisher', users: [{ username: 'bob' }, { username: 'carol' }], permissions: ['c', 'e'] });
  t.ok(updated!.updatedAt.getTime() > updatedAt.getTime(), 'updatedAt moves');
  t.same(await roles.findById(T, id), updated);

  const cleared = await roles.update(T, id, [
    { attribute: 'users', action: 'set', values: [] },
    { attribute: 'permissions', action: 'set', values: [] },
  ]);
  t.strictSame([cleared!.users, cleared!.permissions], [[], []]);
});

t.test('a failing change undoes the ones before it', async (t) => {
  const alice = await insertUser(db, 'alice');
  await roles.create(T, newRole('taken'));
  const { id } = await roles.create(T, newRole('creator', [], ['a']));
  await t.rejects(
    roles.update(T, id, [
      { attribute: 'permissions', action: 'set', values: ['z'] },
      { attribute: 'users', action: 'add', values: [alice] },
      { attribute: 'displayName', value: 'taken' },
    ]),
    DuplicateRoleName,
  );
  await t.rejects(roles.update(T, id, [{ attribute: 'permissions', action: 'set', values: ['z'] }, { attribute: 'users', action: 'add', values: [randomUUID()] }]), UnknownRoleMember);
  t.match(await roles.findById(T, id), { displayName: 'creator', users: [], permissions: ['a'] });
});

t.test('update and delete of an unknown role', async (t) => {
  for (const id of [randomUUID(), 'not-a-uuid']) {
    t.equal(await roles.update(T, id, [{ attribute: 'displayName', value: 'x' }]), undefined);
    t.equal(await roles.delete(T, id), false);
  }
  t.equal(await count('roles'), 0);
});

t.test('deleting a role takes its memberships and permissions; deleting a user takes theirs', async (t) => {
  const alice = await insertUser(db, 'alice');
  const bob = await insertUser(db, 'bob');
  const first = await roles.create(T, newRole('first', [alice, bob], ['a']));
  const second = await roles.create(T, newRole('second', [alice], ['b']));
  t.equal(await roles.delete(T, first.id), true);
  t.equal(await roles.delete(T, first.id), false, 'once');
  t.strictSame([await count('role_users'), await count('role_permissions'), await count('users')], [1, 1, 2]);
  await db.query('DELETE FROM users WHERE id = $1', [alice]);
  t.match(await roles.findById(T, second.id), { users: [], permissions: ['b'] }, "alice's membership went with her");
});

t.test('list pages by creation with the total', async (t) => {
  const created = [];
  for (const name of ['r1', 'r2', 'r3']) created.push(await roles.create(T, newRole(name, [], [`${name}:scope`])));
  const all = await roles.list(T, 0, 100);
  t.equal(all.total, 3);
  t.strictSame(all.roles.map((role) => [role.displayName, role.permissions]), [['r1', ['r1:scope']], ['r2', ['r2:scope']], ['r3', ['r3:scope']]]);
  t.strictSame(await roles.list(T, 1, 1).then((page) => [page.total, page.roles.map((role) => role.displayName)]), [3, ['r2']]);
  t.strictSame(await roles.list(T, 10, 5).then((page) => [page.total, page.roles.length]), [3, 0], 'past the end: still the total');
  t.strictSame(await roles.list(T, 0, 0).then((page) => [page.total, page.roles.length]), [3, 0], 'count 0: the total only');
  await db.query('TRUNCATE roles CASCADE');
  t.strictSame(await roles.list(T, 0, 10), { total: 0, roles: [] });
});

t.test('findMembers: by id first, else by name ignoring case; unknown references are absent', async (t) => {
  const alice = await insertUser(db, 'Alice');
  const bob = await insertUser(db, 'bob');
  // A user named like another user's id: the id wins.
  const lookalike = await insertUser(db, bob);
  const found = await roles.findMembers(T, [alice, alice.toUpperCase(), 'alice', 'ALICE', bob, 'nobody', randomUUID(), 'nul\u0000', '']);
  t.strictSame(Object.fromEntries(found), {
    [alice]: { id: alice, username: 'Alice' },
    [alice.toUpperCase()]: { id: alice, username: 'Alice' },
    alice: { id: alice, username: 'Alice' },
    ALICE: { id: alice, username: 'Alice' },
    [bob]: { id: bob, username: 'bob' },
  });
  t.ok(lookalike);
  t.equal((await roles.findMembers(T, [])).size, 0);
});
