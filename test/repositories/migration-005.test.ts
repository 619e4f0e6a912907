/**
 * Migration 005 against a real PostgreSQL: access tokens issued before it, when an opaque token's
 * row was found by a separate token_hash column, still resolve after it (their id becomes the
 * hash's first 128 bits), JWT rows keep their jti, and the column and its index are gone.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import t from 'tap';
import { SUPER_TENANT } from '../../src/domain/tenants.js';
import { PgTokenRepository } from '../../src/repositories/tokens.js';
import { opaqueTokenId } from '../../src/services/tokens.js';
import { migrateUp as migrateUpFixture, testDatabase } from '../fixtures/db.js';

const { db, appDb } = await testDatabase(t, { migrate: false, poolSize: 2 });

const migrateUp = (count: number) => migrateUpFixture(db, count);

// The schema as it was before migration 005, and an owner and app in it.
await migrateUp(4);
const userId = randomUUID();
const appId = randomUUID();
await db.query("INSERT INTO users (id, username, password_hash) VALUES ($1, 'owner', 'x')", [userId]);
await db.query(
  `INSERT INTO applications (id, client_id, client_secret_enc, client_name, owner, grant_types)
   VALUES ($1, 'cid', 'v1.x.y.z', 'app', 'owner', '{client_credentials}')`,
  [appId],
);
const plant = (id: string, hash: Buffer | null) =>
  db.query(
    `INSERT INTO access_tokens (id, token_hash, app_id, user_id, scopes, grant_type, expires_at)
     VALUES ($1, $2, $3, $4, '{default}', 'client_credentials', now() + interval '1 hour')`,
    [id, hash, appId, userId],
  );
const opaque = randomBytes(32).toString('base64url');
const oldId = randomUUID();
await plant(oldId, createHash('sha256').update(opaque).digest());
const jti = randomUUID();
await plant(jti, null);

t.test('tokens issued before the migration resolve after it', async (t) => {
  t.same(await migrateUp(1), ['005_access_token_id_from_hash'], '005 ran');

  const columns = await db.query("SELECT column_name FROM information_schema.columns WHERE table_name = 'access_tokens' AND column_name = 'token_hash'");
  t.equal(columns.rowCount, 0, 'the token_hash column is gone');
  const indexes = await db.query<{ indexname: string }>("SELECT indexname FROM pg_indexes WHERE tablename = 'access_tokens' ORDER BY indexname");
  t.same(
    indexes.rows.map((row) => row.indexname),
    ['access_tokens_expires_idx', 'access_tokens_family_idx', 'access_tokens_pkey'],
    'one key per row: the primary key',
  );

  // The repository reads the current schema: the later migrations first (the tokens become the
  // super tenant's in 012), then the lookups as the server makes them (dcr_app, row security).
  await migrateUp(Infinity);
  const repo = new PgTokenRepository(appDb);
  const found = await repo.findActiveAccessById(SUPER_TENANT.id, opaqueTokenId(opaque));
  t.equal(found?.appId, appId, 'the opaque token issued before the migration still resolves');
  t.equal(found?.username, 'owner');
  t.equal(found?.tenantId, SUPER_TENANT.id);
  t.equal(await repo.findActiveAccessById(SUPER_TENANT.id, oldId), undefined, 'not under its old random id');
  t.equal((await repo.findActiveAccessById(SUPER_TENANT.id, jti))?.appId, appId, "a JWT's row keeps its jti");
});
