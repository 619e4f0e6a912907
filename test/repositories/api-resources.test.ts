/**
 * PgApiResourceRepository against a real, migrated PostgreSQL: one database for this file, emptied
 * before each test (subtests run one at a time). Conflicts come out as DuplicateApiResource and
 * DuplicateScope and leave nothing behind; scope names are unique across resources; a resource's
 * scopes go with it.
 */
import { randomUUID } from 'node:crypto';
import t from 'tap';
import type { ApiScope } from '../../src/domain/api-resources.js';
import { SUPER_TENANT } from '../../src/domain/tenants.js';
import { DuplicateApiResource, DuplicateScope, PgApiResourceRepository, type NewApiResource } from '../../src/repositories/api-resources.js';
import { testDatabase } from '../fixtures/db.js';

const { db, appDb } = await testDatabase(t);
// As the server runs it: dcr_app, held to row security, within the super tenant.
const repo = new PgApiResourceRepository(appDb);
const T = SUPER_TENANT.id;
t.beforeEach(async () => {
  await db.query('TRUNCATE api_resources CASCADE');
});

function resource(identifier: string): NewApiResource {
  return { id: randomUUID(), identifier, name: `${identifier} name`, description: null, requiresAuthorization: true, type: 'BUSINESS' };
}

const scope = (name: string, description: string | null = null): ApiScope => ({ name, displayName: `${name} shown`, description });

const count = async (table: string) => Number((await db.query<{ n: string }>(`SELECT count(*) AS n FROM ${table}`)).rows[0]!.n);

t.test('create returns the resource; findById reads it back with its scopes', async (t) => {
  const input = resource('User-defined-oauth2-resource');
  const created = await repo.create(T, input, [scope('b'), scope('a', 'the a')]);
  const expected = { ...input, scopes: [scope('a', 'the a'), scope('b')] };
  t.strictSame(created, expected, 'scopes in the order findById reads them');
  t.strictSame(await repo.findById(T, input.id), expected);
  t.strictSame(await repo.findById(T, input.id.toUpperCase()), expected, 'a UUID in upper case names the same resource');
  const bare = resource('bare');
  await repo.create(T, bare, []);
  t.strictSame(await repo.findById(T, bare.id), { ...bare, scopes: [] }, 'no scopes: an empty array');
});

t.test('scopes: oldest first, then by name in code-unit order', async (t) => {
  const input = resource('r');
  await repo.create(T, input, [scope('b'), scope('B'), scope('a:z'), scope('a_z')]);
  await repo.update(T, input.id, { removedScopes: [], addedScopes: [scope('A')] });
  const found = await repo.findById(T, input.id);
  t.strictSame(found?.scopes.map((s) => s.name), ['B', 'a:z', 'a_z', 'b', 'A']);
});

t.test('findById, delete, deleteScope, updateScope: unknown and non-UUID ids never throw', async (t) => {
  await repo.create(T, resource('r'), [scope('s')]);
  for (const id of [randomUUID(), 'not-a-uuid', '', "'; DROP TABLE api_resources; --", `${randomUUID()}x`]) {
    t.equal(await repo.findById(T, id), undefined, JSON.stringify(id));
    await repo.delete(T, id);
    await repo.deleteScope(T, id, 's');
    t.equal(await repo.updateScope(T, id, 's', { displayName: 'x' }), false);
    t.equal(await repo.update(T, id, { removedScopes: [], addedScopes: [] }), false);
  }
  t.equal(await count('api_scopes'), 1, 'nothing deleted');
});

t.test('a taken identifier is DuplicateApiResource, and none of the scopes is stored', async (t) => {
  await repo.create(T, resource('r'), [scope('a')]);
  await t.rejects(repo.create(T, resource('r'), [scope('b')]), DuplicateApiResource);
  t.equal(await count('api_resources'), 1);
  t.equal(await count('api_scopes'), 1);
});

t.test('a scope name is unique across resources: DuplicateScope names the taken ones, and the write is undone', async (t) => {
  const first = resource('first');
  await repo.create(T, first, [scope('a'), scope('b')]);
  const second = resource('second');
  await t.rejects(repo.create(T, second, [scope('b'), scope('c'), scope('a')]), new DuplicateScope(['b', 'a']));
  t.equal(await repo.findById(T, second.id), undefined, 'the resource was not created');
  t.equal(await count('api_scopes'), 2, 'c was not stored');
  await repo.create(T, second, [scope('c')]);
  await t.rejects(repo.update(T, second.id, { name: 'renamed', removedScopes: ['c'], addedScopes: [scope('d'), scope('a')] }), { name: 'DuplicateScope', names: ['a'] });
  t.strictSame(await repo.findById(T, second.id), { ...second, scopes: [scope('c')] }, 'no rename, c still there, d not added');
});

t.test('update: name and description when given, removals before additions', async (t) => {
  const input = resource('r');
  await repo.create(T, input, [scope('keep'), scope('swap'), scope('drop')]);
  t.equal(await repo.update(T, input.id, { description: 'now described', removedScopes: ['swap', 'drop', 'unknown'], addedScopes: [{ name: 'swap', displayName: 'new', description: 'd' }] }), true);
  t.strictSame(await repo.findById(T, input.id), {
    ...input,
    description: 'now described',
    scopes: [scope('keep'), { name: 'swap', displayName: 'new', description: 'd' }],
  });
  t.equal(await repo.update(T, input.id, { name: 'renamed', removedScopes: [], addedScopes: [] }), true);
  t.match(await repo.findById(T, input.id), { name: 'renamed', description: 'now described' }, 'absent fields are kept');
  const removedOthers = resource('other');
  await repo.create(T, removedOthers, [scope('theirs')]);
  await repo.update(T, input.id, { removedScopes: ['theirs'], addedScopes: [] });
  t.equal((await repo.findById(T, removedOthers.id))?.scopes.length, 1, "removedScopes never touches another resource's scopes");
});

t.test('updateScope and deleteScope act on the resource\'s own scopes only', async (t) => {
  const mine = resource('mine');
  const theirs = resource('theirs');
  await repo.create(T, mine, [scope('a', 'old')]);
  await repo.create(T, theirs, [scope('b')]);
  t.equal(await repo.updateScope(T, mine.id, 'a', { displayName: 'A' }), true);
  t.strictSame((await repo.findById(T, mine.id))?.scopes, [{ name: 'a', displayName: 'A', description: 'old' }], 'description kept');
  t.equal(await repo.updateScope(T, mine.id, 'a', { description: 'new' }), true);
  t.strictSame((await repo.findById(T, mine.id))?.scopes, [{ name: 'a', displayName: 'A', description: 'new' }], 'display name kept');
  t.equal(await repo.updateScope(T, mine.id, 'b', { displayName: 'x' }), false, "another resource's scope");
  await repo.deleteScope(T, mine.id, 'b');
  t.equal((await repo.findById(T, theirs.id))?.scopes.length, 1, 'not deleted through another resource');
  await repo.deleteScope(T, theirs.id, 'b');
  t.strictSame((await repo.findById(T, theirs.id))?.scopes, []);
});

t.test('delete takes the scopes with it, and frees their names', async (t) => {
  const input = resource('r');
  await repo.create(T, input, [scope('a'), scope('b')]);
  await repo.delete(T, input.id);
  t.equal(await count('api_scopes'), 0);
  await repo.create(T, resource('r'), [scope('a')]);
  t.pass('identifier and scope name are free again');
});

t.test('list: creation order, the identifier filter, cursors both ways, one extra row', async (t) => {
  const ids: string[] = [];
  for (const identifier of ['a', 'b', 'c', 'd']) {
    const input = resource(identifier);
    await repo.create(T, input, []);
    ids.push(input.id);
  }
  const idsOf = (rows: { id: string }[]) => rows.map((row) => row.id);
  const all = await repo.list(T, { limit: 10 });
  t.equal(all.total, 4);
  t.strictSame(idsOf(all.rows), ids);
  t.strictSame(idsOf((await repo.list(T, { limit: 2 })).rows), ids.slice(0, 3), 'limit + 1 rows');
  t.strictSame(idsOf((await repo.list(T, { limit: 2, after: ids[0]! })).rows), ids.slice(1, 4));
  t.strictSame(idsOf((await repo.list(T, { limit: 2, before: ids[3]! })).rows), [ids[2], ids[1], ids[0]], 'before reads backwards');
  const one = await repo.list(T, { limit: 2, identifier: 'c' });
  t.strictSame({ total: one.total, ids: idsOf(one.rows) }, { total: 1, ids: [ids[2]] });
  t.strictSame(await repo.list(T, { limit: 2, identifier: 'C' }), { total: 0, rows: [] }, 'the identifier is exact');
  t.strictSame((await repo.list(T, { limit: 2, after: randomUUID() })).rows, [], 'a cursor naming no resource: an empty page');
  t.equal((await repo.list(T, { limit: 2, after: ids[0]! })).total, 4, 'total counts every match, not the page');
});

t.test('concurrent definitions of one scope name: exactly one wins', async (t) => {
  const results = await Promise.allSettled(
    Array.from({ length: 6 }, (_, i) => repo.create(T, resource(`r${i}`), [scope(`own${i}`), scope('shared')])),
  );
  t.equal(results.filter((result) => result.status === 'fulfilled').length, 1);
  for (const result of results) if (result.status === 'rejected') t.type(result.reason, DuplicateScope);
  t.equal(await count('api_resources'), 1);
  t.equal(await count('api_scopes'), 2);
});
