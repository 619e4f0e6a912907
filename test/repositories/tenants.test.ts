/**
 * The tenant registry against a migrated PostgreSQL, as the server's role (dcr_app) meets it:
 * a tenant and its owner both or neither, the owner in the new tenant, the domain's uniqueness
 * as its own error, paging and filters, and owners read each in its own tenant.
 */
import { randomUUID } from 'node:crypto';
import t from 'tap';
import { Database } from '../../src/db/database.js';
import { DuplicateTenantDomain, PgTenantRepository } from '../../src/repositories/tenants.js';
import { testDatabase } from '../fixtures/db.js';

const HASH = '$scrypt$ln=10,r=8,p=1$c2FsdHNhbHRzYWx0c2FsdA$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

t.test('the tenant registry', async (t) => {
  const { db: owner, url } = await testDatabase(t);
  const db = new Database({ connectionString: url, poolSize: 2, timeoutMs: 5000, role: 'dcr_app' });
  t.teardown(() => db.close());
  const tenants = new PgTenantRepository(db);

  const kimId = randomUUID();
  const abc = await tenants.create({ domain: 'abc.com', owner: { id: kimId, username: 'kim', passwordHash: HASH } });
  t.match(abc, { id: 1, domain: 'abc.com', active: true, ownerId: kimId }, 'numbered from 1, as WSO2 numbers tenants');
  t.match(abc.uuid, UUID);
  t.ok(abc.createdAt instanceof Date);

  t.test('the owner is a user of the new tenant, and only there', async (t) => {
    const { rows } = await owner.query<{ tenant_id: number; username: string }>('SELECT tenant_id, username FROM users WHERE id = $1', [kimId]);
    t.strictSame(rows, [{ tenant_id: 1, username: 'kim' }]);
    t.equal((await db.queryIn(1, 'SELECT 1 FROM users WHERE id = $1', [kimId])).rowCount, 1);
    t.equal((await db.queryIn(-1234, 'SELECT 1 FROM users WHERE id = $1', [kimId])).rowCount, 0, 'not in the super tenant');
    t.strictSame([...(await tenants.owners([abc]))], [[1, [{ id: kimId, username: 'kim' }]]]);
  });

  t.test('a domain taken is DuplicateTenantDomain, and nothing is written', async (t) => {
    const id = randomUUID();
    await t.rejects(tenants.create({ domain: 'abc.com', owner: { id, username: 'kim', passwordHash: HASH } }), DuplicateTenantDomain);
    t.equal((await owner.query('SELECT 1 FROM users WHERE id = $1', [id])).rowCount, 0, 'no owner without its tenant');
  });

  t.test('an owner that cannot be written leaves no tenant', async (t) => {
    // users_username_not_blank refuses the owner after the tenant row was inserted.
    await t.rejects(tenants.create({ domain: 'blank.com', owner: { id: randomUUID(), username: '', passwordHash: HASH } }), { name: 'error', code: '23514', constraint: 'users_username_not_blank' });
    t.equal(await tenants.findByDomain('blank.com'), undefined, 'no tenant without its owner');
    const again = await tenants.create({ domain: 'blank.com', owner: { id: randomUUID(), username: 'ok-user', passwordHash: HASH } });
    t.equal(again.domain, 'blank.com', 'the domain is free');
  });

  t.test('lookups', async (t) => {
    t.strictSame(await tenants.findById(1), abc);
    t.strictSame(await tenants.findByUuid(abc.uuid), abc);
    t.strictSame(await tenants.findByDomain('abc.com'), abc);
    t.equal(await tenants.findByUuid('not-a-uuid'), undefined);
    t.equal(await tenants.findByUuid(randomUUID()), undefined);
    t.equal(await tenants.findByDomain('ABC.com'), undefined, 'as stored: the service lower-cases');
    t.match(await tenants.findById(-1234), { domain: 'carbon.super', ownerId: null });
  });

  t.test('setActive', async (t) => {
    const off = await tenants.setActive(abc.uuid, false);
    t.match(off, { id: 1, active: false });
    t.ok(off!.updatedAt >= abc.updatedAt);
    const again = await tenants.setActive(abc.uuid, false);
    t.strictSame(again!.updatedAt, off!.updatedAt, 'the same state again changes nothing');
    t.match(await tenants.setActive(abc.uuid, true), { active: true });
    const superTenant = await tenants.findById(-1234);
    t.equal(await tenants.setActive(superTenant!.uuid, false), undefined, 'the super tenant is not deactivated');
    t.equal(await tenants.setActive('nope', false), undefined);
  });

  t.test('list: oldest first, without the super tenant, paged and filtered', async (t) => {
    for (const domain of ['b50%.org', 'c.org', 'd.net']) {
      await tenants.create({ domain: domain.replace('%', ''), owner: { id: randomUUID(), username: 'owner', passwordHash: HASH } });
    }
    const all = await tenants.list(0, 100);
    t.equal(all.total, 5);
    t.strictSame(all.tenants.map((tenant) => tenant.domain), ['abc.com', 'blank.com', 'b50.org', 'c.org', 'd.net']);
    const page = await tenants.list(1, 2);
    t.strictSame([page.total, page.tenants.map((tenant) => tenant.domain)], [5, ['blank.com', 'b50.org']]);
    t.strictSame(await tenants.list(10, 2), { total: 5, tenants: [] }, 'past the end: the total all the same');
    const domains = async (operator: 'eq' | 'sw' | 'ew' | 'co', value: string) =>
      (await tenants.list(0, 100, { operator, value })).tenants.map((tenant) => tenant.domain);
    t.strictSame(await domains('eq', 'c.org'), ['c.org']);
    t.strictSame(await domains('sw', 'b'), ['blank.com', 'b50.org']);
    t.strictSame(await domains('ew', '.org'), ['b50.org', 'c.org']);
    t.strictSame(await domains('co', 'n'), ['blank.com', 'd.net']);
    t.strictSame(await domains('co', '%'), [], 'LIKE wildcards are literal');
    t.strictSame(await domains('co', '_'), []);
    t.strictSame(await domains('eq', 'carbon.super'), [], 'never the super tenant');
    const owners = await tenants.owners(all.tenants);
    t.strictSame([...owners.values()].map((list) => list.length), [1, 1, 1, 1, 1], 'one statement, each owner in its own tenant');
  });
});
