/**
 * Migration 012 against a real PostgreSQL: everything that existed before tenants is the super
 * tenant's (carbon.super, -1234), found by the server's role exactly as before, and invisible from
 * any other tenant.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import t from 'tap';
import { SecretBox } from '../../src/crypto/secret-box.js';
import { APP_ROLE, Database } from '../../src/db/database.js';
import { PgApplicationRepository } from '../../src/repositories/applications.js';
import { PgUserRepository } from '../../src/repositories/users.js';
import { migrateUp as migrateUpFixture, testDatabase } from '../fixtures/db.js';

const { db, url } = await testDatabase(t, { migrate: false, poolSize: 2 });

const migrateUp = (count: number) => migrateUpFixture(db, count);

// The schema before 012: 001–006 and 008–011 (007 was never used).
const before = await migrateUp(10);

const secrets = new SecretBox(randomBytes(32));
const userId = randomUUID();
const appId = randomUUID();
await db.query("INSERT INTO users (id, username, password_hash) VALUES ($1, 'alice', 'x')", [userId]);
await db.query(
  `INSERT INTO applications (id, client_id, client_secret_enc, client_name, owner, owner_id, grant_types)
   VALUES ($1, 'cid_alice', $2, 'alice_app', 'alice', $3, '{client_credentials}')`,
  [appId, secrets.seal('s3cret', 'cid_alice'), userId],
);
await db.query(
  `INSERT INTO access_tokens (id, app_id, user_id, scopes, grant_type, expires_at)
   VALUES ($1, $2, $3, '{default}', 'client_credentials', now() + interval '1 hour')`,
  [randomUUID(), appId, userId],
);
await db.query("INSERT INTO roles (id, display_name) VALUES ($1, 'readers')", [randomUUID()]);
await db.query("INSERT INTO revocation_targets (url) VALUES ('http://apim.test/internal/data/v1/notify')");

t.test('everything existing becomes the super tenant', async (t) => {
  t.equal(before.at(-1), '011_revocation_events');
  t.same(await migrateUp(1), ['012_tenants']);
  for (const table of ['users', 'applications', 'access_tokens', 'roles']) {
    const { rows } = await db.query<{ tenant_id: number }>(`SELECT DISTINCT tenant_id FROM ${table}`);
    t.same(rows, [{ tenant_id: -1234 }], table);
  }
  const { rows } = await db.query('SELECT id, domain, active FROM tenants');
  t.same(rows, [{ id: -1234, domain: 'carbon.super', active: true }]);
});

t.test('the server finds it as before, in the super tenant only', async (t) => {
  const app = new Database({ connectionString: url, poolSize: 2, timeoutMs: 5000, role: APP_ROLE });
  t.teardown(() => app.close());
  const apps = new PgApplicationRepository(app, secrets, db);
  const found = await apps.findByClientId(-1234, 'cid_alice');
  t.match(found, { id: appId, tenantId: -1234, clientSecret: 's3cret', owner: 'alice', ownerId: userId });
  t.equal(await apps.findByClientId(1, 'cid_alice'), undefined, 'another tenant does not see it');
  const users = new PgUserRepository(app);
  t.match(await users.findByUsername(-1234, 'alice'), { id: userId, tenantId: -1234 });
  // A trigger of 011 still queues the deleted app's event, now with its tenant.
  t.ok(await apps.deleteById(-1234, appId));
  const queued = await db.query<{ tenant_id: number; kind: string; consumer_key: string }>('SELECT tenant_id, kind, consumer_key FROM revocation_outbox');
  t.same(queued.rows, [{ tenant_id: -1234, kind: 'consumer_app', consumer_key: 'cid_alice' }]);
});
