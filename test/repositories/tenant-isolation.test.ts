import { randomUUID } from 'node:crypto';
import t from 'tap';
import { Database } from '../../src/db/database.js';
import { testDatabase } from '../fixtures/db.js';

// Row-level security (migration 012) as the server's role, dcr_app, meets it: the tenant scope is
// set per statement or transaction by the Database (src/db/tenant-scope.ts), and a statement
// written without any tenant predicate still sees only the rows of the tenants in its scope.

const HASH = '$scrypt$ln=10,r=8,p=1$c2FsdHNhbHRzYWx0c2FsdA$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U';

t.test('tenant isolation in PostgreSQL', async (t) => {
  const { db: owner, url } = await testDatabase(t);
  const app = new Database({ connectionString: url, poolSize: 2, timeoutMs: 5000, role: 'dcr_app' });
  t.teardown(() => app.close());
  await owner.query("INSERT INTO tenants (id, domain) VALUES (1, 'a.com'), (2, 'b.com')");
  for (const [tenant, name] of [[-1234, 'root'], [1, 'alice'], [1, 'anne'], [2, 'bob']] as const) {
    await owner.query('INSERT INTO users (id, username, password_hash, tenant_id) VALUES ($1, $2, $3, $4)', [randomUUID(), name, HASH, tenant]);
  }
  const names = async (rows: Promise<{ rows: { username: string }[] }>) => (await rows).rows.map((r) => r.username).sort();

  t.test('the runtime role cannot bypass row security', async (t) => {
    const { rows } = await app.query<{ current_user: string; rolsuper: boolean; rolbypassrls: boolean; owns: boolean }>(
      `SELECT current_user, r.rolsuper, r.rolbypassrls,
         EXISTS (SELECT 1 FROM pg_tables WHERE schemaname = 'public' AND tableowner = current_user) AS owns
       FROM pg_roles r WHERE r.rolname = current_user`,
    );
    t.same(rows[0], { current_user: 'dcr_app', rolsuper: false, rolbypassrls: false, owns: false });
    const forced = await owner.query<{ relname: string }>(
      `SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind = 'r'
         AND relrowsecurity AND relforcerowsecurity ORDER BY relname`,
    );
    t.same(
      forced.rows.map((r) => r.relname),
      ['access_tokens', 'api_resources', 'api_scopes', 'applications', 'refresh_tokens', 'revocation_outbox', 'role_permissions', 'role_users', 'roles', 'signing_keys', 'users'],
      'every tenant-owned table has forced row security',
    );
    // Asking PostgreSQL to skip the policies is refused, not obeyed.
    await t.rejects(
      app.transactionIn(1, async (tx) => {
        await tx.query('SET LOCAL row_security = off');
        return tx.query('SELECT count(*) FROM users');
      }),
      /would be affected by row-level security policy/,
    );
  });

  t.test('a statement without a tenant predicate sees its tenant only', async (t) => {
    t.same(await names(app.queryIn(1, 'SELECT username FROM users')), ['alice', 'anne']);
    t.same(await names(app.queryIn(2, 'SELECT username FROM users')), ['bob']);
    t.same(await names(app.queryIn(-1234, 'SELECT username FROM users')), ['root']);
    t.same(await names(app.queryIn([1, 2], 'SELECT username FROM users')), ['alice', 'anne', 'bob'], 'a coalesced scope: its tenants only');
    t.same(await names(app.query('SELECT username FROM users')), [], 'no scope: no rows at all');
    const updated = await app.queryIn(2, "UPDATE users SET username = username || '!'");
    t.equal(updated.rowCount, 1, 'an UPDATE without a predicate touches its tenant only');
    const deleted = await app.queryIn(2, "DELETE FROM users WHERE username = 'alice'");
    t.equal(deleted.rowCount, 0, "another tenant's row cannot be deleted");
  });

  t.test('a row cannot be written into a tenant out of scope', async (t) => {
    await t.rejects(
      app.queryIn(1, 'INSERT INTO users (id, username, password_hash, tenant_id) VALUES ($1, $2, $3, 2)', [randomUUID(), 'mallory', HASH]),
      /row-level security/,
    );
    await app.queryIn(1, 'INSERT INTO users (id, username, password_hash) VALUES ($1, $2, $3)', [randomUUID(), 'ada', HASH]);
    const { rows } = await owner.query<{ tenant_id: number }>("SELECT tenant_id FROM users WHERE username = 'ada'");
    t.same(rows, [{ tenant_id: 1 }], 'a row written without its tenant takes the one in scope');
    await t.rejects(
      app.queryIn([1, 2], 'INSERT INTO users (id, username, password_hash) VALUES ($1, $2, $3)', [randomUUID(), 'amb', HASH]),
      /row-level security/,
      'with several tenants in scope, a row must name its tenant (its tenant_id is NULL, in no scope)',
    );
  });

  t.test('the scope lasts for its statement or transaction only', async (t) => {
    const client = await app.pool.connect();
    try {
      const setting = async () => (await client.query<{ s: string | null }>("SELECT current_setting('dcr.tenants', true) AS s")).rows[0]!.s;
      // The same connection the pool hands out again: nothing of an earlier scope is left on it.
      await app.queryIn(1, 'SELECT 1');
      t.not(await setting(), '1');
    } finally {
      client.release();
    }
    const seen = await app.transactionIn(2, async (tx) => {
      const first = await tx.query<{ s: string }>("SELECT current_setting('dcr.tenants') AS s");
      const users = await tx.query<{ username: string }>('SELECT username FROM users');
      return { setting: first.rows[0]!.s, users: users.rows.map((r) => r.username) };
    });
    t.same(seen, { setting: '2', users: ['bob!'] });
    // Every connection of the pool, after scoped statements and transactions: no scope left.
    const checks = await Promise.all([0, 1].map(() => app.query<{ n: string }>('SELECT count(*) AS n FROM users')));
    t.same(checks.map((c) => c.rows[0]!.n), ['0', '0']);
  });

  t.test('named statements and parameters go through the scope unchanged', async (t) => {
    const statement = { name: 'tenant_isolation_test_users', text: 'SELECT username FROM users WHERE username = ANY($1::text[]) ORDER BY username' };
    for (let i = 0; i < 3; i++) {
      t.same(await names(app.queryIn(1, statement, [['alice', 'bob!']])), ['alice']);
      t.same(await names(app.queryIn(2, statement, [['alice', 'bob!']])), ['bob!']);
    }
    await t.rejects(app.queryIn(1, 'SELECT nonsense FROM users'), /nonsense/);
    t.same(await names(app.queryIn(1, statement, [['anne']])), ['anne'], 'the connection still works after a failed statement');
  });

  t.test("the upkeep's role sees every tenant's rows of the tables it keeps; another role with the same grants, none", async (t) => {
    // Two roles of this test's own (roles are the cluster's), with the same table privileges: one a
    // member of dcr_maintenance, as the login role that migrates is, the other not.
    const suffix = randomUUID().replace(/-/g, '').slice(0, 12);
    const [upkeep, other] = [`t_upkeep_${suffix}`, `t_other_${suffix}`];
    for (const role of [upkeep, other]) {
      await owner.query(`CREATE ROLE ${role} NOLOGIN`);
      await owner.query(`GRANT SELECT, UPDATE ON users, access_tokens TO ${role}`);
    }
    await owner.query(`GRANT dcr_maintenance TO ${upkeep}`);
    t.teardown(async () => {
      for (const role of [upkeep, other]) {
        await owner.query(`DROP OWNED BY ${role}`);
        await owner.query(`DROP ROLE ${role}`);
      }
    });
    const as = (role: string, sql: string) =>
      owner.transaction(async (tx) => {
        await tx.query(`SET LOCAL ROLE ${role}`);
        return (await tx.query<{ n: string }>(sql)).rows[0]!.n;
      });
    t.equal(await as(upkeep, 'SELECT count(*) AS n FROM users'), '5', 'every tenant\'s users, for the revocation events\' names');
    t.equal(await as(other, 'SELECT count(*) AS n FROM users'), '0', 'a role outside dcr_maintenance: nothing without a scope');
    const written = await as(upkeep, "WITH u AS (UPDATE users SET username = username RETURNING 1) SELECT count(*) AS n FROM u");
    t.equal(written, '0', "users are read, never written, by the upkeep (its policy there is FOR SELECT)");
  });
});

