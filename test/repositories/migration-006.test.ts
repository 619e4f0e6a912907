/**
 * Migration 006 against a real PostgreSQL: every app gets its owner's row as owner_id (an exact
 * match, else the one user of that name in other capitals), an app whose owner no longer exists is
 * deleted with its tokens (a new user of that name would have inherited it), and from then on
 * deleting a user deletes their apps and tokens.
 */
import { randomUUID } from 'node:crypto';
import t from 'tap';
import { migrateUp as migrateUpFixture, testDatabase } from '../fixtures/db.js';

const { db } = await testDatabase(t, { migrate: false, poolSize: 2 });

const migrateUp = (count: number) => migrateUpFixture(db, count);

// The schema before 006: apps name their owner only.
await migrateUp(5);
const user = (username: string) => {
  const id = randomUUID();
  return db.query("INSERT INTO users (id, username, password_hash) VALUES ($1, $2, 'x')", [id, username]).then(() => id);
};
const app = async (name: string, owner: string) => {
  const id = randomUUID();
  await db.query(
    `INSERT INTO applications (id, client_id, client_secret_enc, client_name, owner, grant_types)
     VALUES ($1, $2, 'v1.x.y.z', $3, $4, '{client_credentials}')`,
    [id, `cid_${name}`, name, owner],
  );
  return id;
};
const token = (appId: string, userId: string) =>
  db.query(
    `INSERT INTO access_tokens (id, app_id, user_id, scopes, grant_type, expires_at)
     VALUES ($1, $2, $3, '{default}', 'client_credentials', now() + interval '1 hour')`,
    [randomUUID(), appId, userId],
  );

const alice = await user('alice');
const bob = await user('bob');
const aliceApp = await app('alice_app', 'alice');
const bobApp = await app('bob_app', 'Bob');
// Dave was deleted before the upgrade; his app stayed, and so did a token another user holds for it.
const daveApp = await app('dave_app', 'dave');
await token(aliceApp, alice);
await token(daveApp, alice);

t.test('owners are linked, orphaned apps go with their tokens', async (t) => {
  t.same(await migrateUp(1), ['006_application_owner_id']);
  const { rows } = await db.query<{ client_name: string; owner_id: string }>('SELECT client_name, owner_id FROM applications ORDER BY client_name');
  t.same(rows, [
    { client_name: 'alice_app', owner_id: alice },
    { client_name: 'bob_app', owner_id: bob },
  ], "alice's app by its exact name, Bob's by bob's in other capitals, dave's is gone");
  const tokens = await db.query<{ app_id: string }>('SELECT app_id FROM access_tokens');
  t.same(tokens.rows.map((row) => row.app_id), [aliceApp], "the orphan's token went with it");
  const nullable = await db.query<{ is_nullable: string }>(
    "SELECT is_nullable FROM information_schema.columns WHERE table_name = 'applications' AND column_name = 'owner_id'",
  );
  t.equal(nullable.rows[0]?.is_nullable, 'NO', 'owner_id is required');
});

t.test('deleting a user deletes their apps and the tokens of those apps', async (t) => {
  await token(bobApp, alice);
  await db.query('DELETE FROM users WHERE id = $1', [bob]);
  t.equal((await db.query('SELECT 1 FROM applications WHERE id = $1', [bobApp])).rowCount, 0, "bob's app is gone");
  t.equal((await db.query('SELECT 1 FROM access_tokens WHERE app_id = $1', [bobApp])).rowCount, 0, 'and every token issued for it');
  t.equal((await db.query('SELECT 1 FROM applications WHERE id = $1', [aliceApp])).rowCount, 1, "alice's app stays");
});

t.test('an app cannot be inserted for a user that does not exist', async (t) => {
  await t.rejects(
    db.query(
      `INSERT INTO applications (id, client_id, client_secret_enc, client_name, owner, owner_id, grant_types)
       VALUES ($1, 'cid_x', 'v1.x.y.z', 'x', 'ghost', $2, '{client_credentials}')`,
      [randomUUID(), randomUUID()],
    ),
    { name: 'ForeignKeyViolation', constraint: 'applications_owner_id_fkey' },
  );
});
