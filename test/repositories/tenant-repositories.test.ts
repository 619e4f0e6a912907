/**
 * The repositories across two tenants (migration 012), as the server runs them: over dcr_app, held
 * to row security, each call within the tenant it names. The same names may be taken in both
 * tenants; a lookup in one tenant never answers with the other's row, also when the calls of both
 * tenants share one coalesced statement (calls made in the same tick do); and a coalesced
 * registration inserts each app into its own tenant. Setup and inspection by direct SQL run as
 * the owner (`db`), who sees every row.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import t from 'tap';
import { randomWso2Token } from '../../src/crypto/random.js';
import { SecretBox } from '../../src/crypto/secret-box.js';
import type { TenantScope } from '../../src/db/tenant-scope.js';
import type { NewApplication, NewIsApplication } from '../../src/domain/types.js';
import { DuplicateScope, PgApiResourceRepository } from '../../src/repositories/api-resources.js';
import { PgApplicationRepository } from '../../src/repositories/applications.js';
import { DuplicateRoleName, PgRoleRepository } from '../../src/repositories/roles.js';
import { PgTokenRepository } from '../../src/repositories/tokens.js';
import { DuplicateUserName, PgUserRepository } from '../../src/repositories/users.js';
import { testDatabase } from '../fixtures/db.js';

const HASH = '$scrypt$ln=10,r=8,p=1$c2FsdHNhbHRzYWx0c2FsdA$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U';
const A = 1;
const B = 2;

const { db, appDb } = await testDatabase(t);
await db.query("INSERT INTO tenants (id, domain) VALUES (1, 'a.com'), (2, 'b.com')");

/** The scopes of the statements of this name the repositories send over appDb (a coalesced one names several tenants). */
const scopesOf = new Map<string, TenantScope[]>();
const queryIn = appDb.queryIn.bind(appDb);
appDb.queryIn = ((scope: TenantScope, statement: Parameters<typeof appDb.queryIn>[1], values?: readonly unknown[]) => {
  const name = typeof statement === 'string' ? statement : statement.name;
  scopesOf.set(name, [...(scopesOf.get(name) ?? []), scope]);
  return queryIn(scope, statement, values);
}) as typeof appDb.queryIn;
/** The scopes (their distinct tenants, in order) of the statements named `name` sent while `work` ran. */
async function scopesDuring(name: string, work: () => Promise<unknown>): Promise<TenantScope[]> {
  scopesOf.delete(name);
  await work();
  return (scopesOf.get(name) ?? []).map((scope) => (typeof scope === 'number' ? scope : [...new Set(scope)].sort((x, y) => x - y)));
}

const secrets = new SecretBox(randomBytes(32));
const users = new PgUserRepository(appDb);
const apps = new PgApplicationRepository(appDb, secrets, db);
const tokens = new PgTokenRepository(appDb);
const roles = new PgRoleRepository(appDb);
const resources = new PgApiResourceRepository(appDb);

const tenantOf = async (table: string, id: string) =>
  (await db.query<{ tenant_id: number }>(`SELECT tenant_id FROM ${table} WHERE id = $1`, [id])).rows.map((row) => row.tenant_id);

// One user named alice in each tenant (created through the repository: the same name in both
// succeeds), and bob in tenant B only.
const alice = {
  [A]: await users.create(A, { id: randomUUID(), username: 'alice', passwordHash: HASH }),
  [B]: await users.create(B, { id: randomUUID(), username: 'alice', passwordHash: HASH }),
};
const bob = await users.create(B, { id: randomUUID(), username: 'bob', passwordHash: HASH });

function newApp(tenant: number, overrides: Partial<NewApplication> = {}): NewApplication {
  return {
    id: randomUUID(),
    tenantId: tenant,
    clientId: randomWso2Token(),
    clientSecret: randomWso2Token(),
    clientName: 'shop',
    owner: 'alice',
    ownerId: alice[tenant as 1 | 2].id,
    grantTypes: ['client_credentials', 'password', 'refresh_token'],
    callbackUrl: null,
    saasApp: false,
    tokenType: 'DEFAULT',
    userStoreDomainInSubject: false,
    ...overrides,
  };
}

t.test('users: one name in two tenants, each lookup in its own', async (t) => {
  t.same([alice[A].tenantId, alice[B].tenantId, bob.tenantId], [A, B, B], 'each created in its tenant');
  t.same(await tenantOf('users', alice[A].id), [A]);
  t.same(await tenantOf('users', alice[B].id), [B]);
  await t.rejects(users.create(A, { id: randomUUID(), username: 'ALICE', passwordHash: HASH }), DuplicateUserName, 'still unique (ignoring case) within a tenant');

  // Coalesced (Database.lookup): calls of the same tick share one statement, whatever their tenant.
  let found: unknown[] = [];
  const scopes = await scopesDuring('users_by_username', async () => {
    found = await Promise.all([users.findByUsername(A, 'alice'), users.findByUsername(B, 'alice'), users.findByUsername(A, 'bob'), users.findByUsername(B, 'bob')]);
  });
  t.same(scopes, [[A, B]], 'one statement for both tenants');
  const [aliceA, aliceB, bobA, bobB] = found as (typeof bob | undefined)[];
  t.equal(aliceA?.id, alice[A].id, "tenant A's alice in A");
  t.equal(aliceB?.id, alice[B].id, "tenant B's alice in B");
  t.equal(bobA, undefined, "B's bob is unknown in A, though B asked for him in the same statement");
  t.equal(bobB?.id, bob.id);

  t.equal(await users.findById(A, alice[B].id), undefined, "B's user by id, in A");
  t.equal((await users.findById(B, alice[B].id))?.id, alice[B].id);
  t.equal((await users.findByUsernameIgnoringCase(A, 'ALICE'))?.id, alice[A].id);
  t.equal(await users.findByUsernameIgnoringCase(A, 'BOB'), undefined);
  t.same((await users.list(A, 0, 10)).users.map((user) => user.id), [alice[A].id], "A's list: A's users only");
  t.equal((await users.list(B, 0, 10)).total, 2);
  t.equal((await users.list(A, 5, 10)).total, 1, "A's count past the end: A's users only");
  await users.setPasswordHash(A, bob.id, '$scrypt$ln=10,r=8,p=1$bmV3$bmV3');
  t.equal((await users.findById(B, bob.id))?.passwordHash, HASH, "a password set in A does not reach B's user");
  t.equal(await users.delete(A, bob.id), false, "B's user cannot be deleted in A");
  t.ok(await users.findById(B, bob.id), 'still there');
});

t.test('applications: one name (and one client id) in two tenants; the coalesced lookup by client id answers each in its own', async (t) => {
  const inA = newApp(A);
  // The same client id in B as in A: ids are unique per tenant (migration 012).
  const inB = newApp(B, { clientId: inA.clientId });
  const [createdA, createdB] = await Promise.all([apps.insertOrFind(inA), apps.insertOrFind(inB)]);
  t.match(createdA, { created: true, application: { id: inA.id, tenantId: A } });
  t.match(createdB, { created: true, application: { id: inB.id, tenantId: B } });

  let found: unknown[] = [];
  const scopes = await scopesDuring('applications_by_client_id', async () => {
    found = await Promise.all([apps.findByClientId(A, inA.clientId), apps.findByClientId(B, inA.clientId)]);
  });
  t.same(scopes, [[A, B]], 'one statement for both tenants');
  const [fromA, fromB] = found as Awaited<ReturnType<typeof apps.findByClientId>>[];
  t.match(fromA, { id: inA.id, tenantId: A, clientSecret: inA.clientSecret }, "A's app for A");
  t.match(fromB, { id: inB.id, tenantId: B, clientSecret: inB.clientSecret }, "B's app for B, under the same client id");

  const onlyB = newApp(B, { clientName: 'only-b' });
  await apps.insertOrFind(onlyB);
  const [missing, present] = await Promise.all([apps.findByClientId(A, onlyB.clientId), apps.findByClientId(B, onlyB.clientId)]);
  t.equal(missing, undefined, "B's client id is unknown in A, though B asked for it in the same statement");
  t.equal(present?.id, onlyB.id);

  t.equal((await apps.findByName(A, 'shop'))?.id, inA.id);
  t.equal((await apps.findByName(B, 'shop'))?.id, inB.id);
  t.equal(await apps.findByName(A, 'only-b'), undefined);
  t.equal(await apps.findIsByClientId(A, onlyB.clientId), undefined);
  t.equal(await apps.findIsByName(A, 'only-b'), undefined);
  t.equal(await apps.count(A), 1);
  t.equal(await apps.count(B), 2);
  t.same((await apps.list(A, 0, 10)).applications.map((app) => app.id), [inA.id]);
  t.equal(await apps.deleteById(A, onlyB.id), false, "B's app cannot be deleted in A");
  t.equal(await apps.updateIs({ ...onlyB, tenantId: A, lifetimes: { applicationToken: null, userToken: null, refreshToken: null }, metadata: {} }), undefined, "nor updated in A");
  t.equal((await apps.findByClientId(B, onlyB.clientId))?.clientName, 'only-b');
});

t.test('a coalesced registration batch inserts each app into its own tenant', async (t) => {
  await apps.insertOrFind(newApp(A, { clientName: 'taken-in-a' }));
  const batch = [
    newApp(A, { clientName: 'batch' }),
    newApp(B, { clientName: 'batch' }),
    newApp(B, { clientName: 'batch-b-only' }),
    newApp(A, { clientName: 'taken-in-a' }),
    newApp(B, { clientName: 'taken-in-a' }),
  ];
  let results: Awaited<ReturnType<typeof apps.insertOrFind>>[] = [];
  const scopes = await scopesDuring('applications_insert_or_find', async () => {
    results = await Promise.all(batch.map((app) => apps.insertOrFind(app)));
  });
  t.same(scopes, [[A, B]], 'one statement for the batch, in the scope of both tenants');
  const [batchA, batchB, bOnly, takenA, takenB] = results;
  t.match(batchA, { created: true, application: { id: batch[0]!.id, tenantId: A } });
  t.match(batchB, { created: true, application: { id: batch[1]!.id, tenantId: B } }, 'the same name in the other tenant is not taken');
  t.match(bOnly, { created: true, application: { id: batch[2]!.id, tenantId: B } });
  t.equal(takenA?.created, false, "a name taken in A is taken in A");
  t.not(takenA?.application.id, batch[3]!.id, "A's stored app, not the one offered");
  t.equal(takenA?.application.tenantId, A);
  t.match(takenB, { created: true, application: { id: batch[4]!.id, tenantId: B } }, 'and free in B');
  for (const [i, tenant] of [A, B, B, A, B].entries()) {
    if (i === 3) continue;
    t.same(await tenantOf('applications', batch[i]!.id), [tenant], `row ${i} stored in tenant ${tenant}`);
  }
  t.same(await tenantOf('applications', batch[3]!.id), [], 'nothing stored for the taken name');
});

t.test('a coalesced IS DCR batch (createIs) inserts each app into its own tenant', async (t) => {
  const isApp = (tenant: number): NewIsApplication => ({
    ...newApp(tenant, { clientName: 'is-app' }),
    lifetimes: { applicationToken: 60, userToken: null, refreshToken: null },
    metadata: { contacts: [`${tenant}@example.com`] },
  });
  const [inA, inB] = [isApp(A), isApp(B)];
  const [a, b] = await Promise.all([apps.createIs(inA), apps.createIs(inB)]);
  t.match([a, b], [{ id: inA.id, tenantId: A }, { id: inB.id, tenantId: B }]);
  t.same(await tenantOf('applications', inA.id), [A]);
  t.same(await tenantOf('applications', inB.id), [B]);
  t.same((await apps.findIsByName(B, 'is-app'))?.metadata, { contacts: ['2@example.com'] });
});

t.test('tokens: a lookup by id in one tenant never finds the other tenant\'s token', async (t) => {
  const appA = (await apps.findByName(A, 'shop'))!;
  const appB = (await apps.findByName(B, 'shop'))!;
  const expiresAt = new Date(Date.now() + 3600_000);
  const access = (tenant: number, appId: string, userId: string) => ({
    id: randomUUID(),
    tenantId: tenant,
    appId,
    userId,
    scopes: ['default'],
    grantType: 'password',
    familyId: null,
    expiresAt,
  });
  const tokenA = access(A, appA.id, alice[A].id);
  const tokenB = access(B, appB.id, alice[B].id);
  await Promise.all([tokens.insertAccess(tokenA), tokens.insertAccess(tokenB)]);
  t.same(await tenantOf('access_tokens', tokenA.id), [A]);
  t.same(await tenantOf('access_tokens', tokenB.id), [B]);

  let found: Awaited<ReturnType<typeof tokens.findActiveAccessById>>[] = [];
  const scopes = await scopesDuring('access_tokens_by_id', async () => {
    found = await Promise.all([
      tokens.findActiveAccessById(A, tokenA.id),
      tokens.findActiveAccessById(B, tokenA.id),
      tokens.findActiveAccessById(A, tokenB.id),
      tokens.findActiveAccessById(B, tokenB.id),
    ]);
  });
  t.same(scopes, [[A, B]], 'one statement for both tenants');
  t.match(found, [{ id: tokenA.id, tenantId: A, userId: alice[A].id }, undefined, undefined, { id: tokenB.id, tenantId: B, userId: alice[B].id }]);

  // Client credentials for "alice" in both tenants, one coalesced INSERT: each row takes its own tenant's alice.
  const cc = (tenant: number, appId: string) => ({ id: randomUUID(), tenantId: tenant, appId, username: 'alice', scopes: ['default'], grantType: 'client_credentials', expiresAt });
  const [ccA, ccB, ccBobInA] = [cc(A, appA.id), cc(B, appB.id), { ...cc(A, appA.id), username: 'bob' }];
  t.same(await Promise.all([tokens.insertAccessForUsername(ccA), tokens.insertAccessForUsername(ccB), tokens.insertAccessForUsername(ccBobInA)]), [true, true, false], "B's bob is no user of A");
  const { rows } = await db.query<{ id: string; tenant_id: number; user_id: string }>('SELECT id, tenant_id, user_id FROM access_tokens WHERE id = ANY($1::uuid[]) ORDER BY tenant_id', [[ccA.id, ccB.id, ccBobInA.id]]);
  t.same(rows, [
    { id: ccA.id, tenant_id: A, user_id: alice[A].id },
    { id: ccB.id, tenant_id: B, user_id: alice[B].id },
  ]);

  t.equal(await tokens.revokeAccess(A, tokenB.id, appB.id, false), false, "B's token cannot be revoked in A");
  t.equal((await tokens.findActiveAccessById(B, tokenB.id))?.id, tokenB.id, 'still active');

  const familyId = randomUUID();
  const hash = randomBytes(32);
  await tokens.insertRefresh({ id: randomUUID(), tenantId: B, tokenHash: hash, familyId, appId: appB.id, userId: alice[B].id, scopes: ['default'], expiresAt });
  t.equal(await tokens.findActiveRefreshByHash(A, hash), undefined, "B's refresh token, in A");
  t.same(await tokens.consumeRefresh(A, hash, appB.id), { outcome: 'invalid' }, 'cannot be consumed in A');
  t.equal(await tokens.revokeRefresh(A, hash, appB.id), false);
  t.match(await tokens.consumeRefresh(B, hash, appB.id), { outcome: 'consumed', token: { tenantId: B, familyId } }, 'but is in B');
});

t.test('roles: one name in two tenants, each lookup in its own', async (t) => {
  const roleA = await roles.create(A, { id: randomUUID(), displayName: 'publishers', userIds: [alice[A].id], permissions: ['apim:api_create'] });
  const roleB = await roles.create(B, { id: randomUUID(), displayName: 'publishers', userIds: [alice[B].id, bob.id], permissions: ['apim:api_create'] });
  t.same(await tenantOf('roles', roleA.id), [A]);
  t.same(await tenantOf('roles', roleB.id), [B]);
  await t.rejects(roles.create(A, { id: randomUUID(), displayName: 'publishers', userIds: [], permissions: [] }), DuplicateRoleName, 'still unique within a tenant');

  t.equal((await roles.findByDisplayName(A, 'publishers'))?.id, roleA.id);
  t.equal((await roles.findByDisplayName(B, 'publishers'))?.id, roleB.id);
  t.equal(await roles.findById(A, roleB.id), undefined, "B's role by id, in A");
  t.same((await roles.findById(B, roleB.id))?.users.map((user) => user.id).sort(), [alice[B].id, bob.id].sort());
  t.same((await roles.list(A, 0, 10)).roles.map((role) => role.id), [roleA.id]);
  t.equal((await roles.list(A, 5, 10)).total, 1);
  t.equal(await roles.update(A, roleB.id, [{ attribute: 'displayName', value: 'hijacked' }]), undefined, "B's role cannot be changed in A");
  t.equal(await roles.delete(A, roleB.id), false, 'nor deleted');
  t.equal((await roles.findById(B, roleB.id))?.displayName, 'publishers');

  const members = await roles.findMembers(A, ['alice', 'bob', alice[B].id, bob.id]);
  t.same(Object.fromEntries(members), { alice: { id: alice[A].id, username: 'alice' } }, "A's members: by name A's alice; B's users by id or name are unknown");
});

t.test('api resources: one identifier and one scope name in two tenants, each lookup in its own', async (t) => {
  const resource = (identifier: string) => ({ id: randomUUID(), identifier, name: identifier, description: null, requiresAuthorization: true, type: 'BUSINESS' });
  const scope = { name: 'orders:read', displayName: 'Read orders', description: null };
  const inA = await resources.create(A, resource('https://orders'), [scope]);
  const inB = await resources.create(B, resource('https://orders'), [scope]);
  t.same(await tenantOf('api_resources', inA.id), [A]);
  t.same(await tenantOf('api_resources', inB.id), [B]);
  const scopeRows = await db.query<{ tenant_id: number; resource_id: string }>("SELECT tenant_id, resource_id FROM api_scopes WHERE name = 'orders:read' ORDER BY tenant_id");
  t.same(scopeRows.rows, [
    { tenant_id: A, resource_id: inA.id },
    { tenant_id: B, resource_id: inB.id },
  ], 'one scope of that name in each tenant');
  await t.rejects(resources.create(A, resource('https://other'), [scope]), new DuplicateScope(['orders:read']), 'a scope name is still unique within a tenant');

  t.equal(await resources.findById(A, inB.id), undefined, "B's resource by id, in A");
  t.same((await resources.findById(B, inB.id))?.scopes.map((s) => s.name), ['orders:read']);
  const listed = await resources.list(A, { limit: 10 });
  t.same({ total: listed.total, ids: listed.rows.map((row) => row.id) }, { total: 1, ids: [inA.id] });
  const byIdentifier = await resources.list(B, { limit: 10, identifier: 'https://orders' });
  t.same({ total: byIdentifier.total, ids: byIdentifier.rows.map((row) => row.id) }, { total: 1, ids: [inB.id] });
  t.equal(await resources.update(A, inB.id, { name: 'hijacked', removedScopes: [], addedScopes: [] }), false, "B's resource cannot be changed in A");
  t.equal(await resources.updateScope(A, inB.id, 'orders:read', { displayName: 'hijacked' }), false);
  await resources.deleteScope(A, inB.id, 'orders:read');
  await resources.delete(A, inB.id);
  t.match(await resources.findById(B, inB.id), { name: 'https://orders', scopes: [{ name: 'orders:read', displayName: 'Read orders' }] }, 'untouched');
  await resources.delete(A, inA.id);
  t.equal(await resources.findById(A, inA.id), undefined);
  t.ok(await resources.findById(B, inB.id), "deleting A's resource leaves B's");
});
