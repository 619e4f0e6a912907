/**
 * The client_credentials token INSERT of PgTokenRepository against a real, migrated PostgreSQL:
 * with DCR_TOKEN_COMMIT=async its own transaction, and only it, commits without waiting for the
 * WAL flush; with sync nothing changes; either way the row is there for every session at once.
 * And a refresh family's grant (insertGrant): its access and refresh token are stored together or
 * not at all.
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import t from 'tap';
import { SUPER_TENANT } from '../../src/domain/tenants.js';
import { insertAccessForUsername, PgTokenRepository } from '../../src/repositories/tokens.js';
import { ownerAndApp, testDatabase } from '../fixtures/db.js';

// One connection: a setting that leaked out of a statement's transaction would show on the next.
// The repositories run as the server's do (dcr_app, row security); rows are set up and read as the owner.
const { db, appDb, url } = await testDatabase(t, { poolSize: 1 });
const { appId, userId } = await ownerAndApp(db);
const T = SUPER_TENANT.id;

function token(username = 'owner') {
  const now = new Date();
  return {
    id: randomUUID(),
    tenantId: T,
    appId,
    username,
    scopes: ['default', 'openid'],
    grantType: 'client_credentials',
    issuedAt: now,
    expiresAt: new Date(now.getTime() + 3600_000),
  };
}

// On the repositories' one connection.
const setting = async () => (await appDb.query<{ synchronous_commit: string }>('SHOW synchronous_commit')).rows[0]!.synchronous_commit;

for (const asyncCommit of [true, false]) {
  t.test(`asyncCommit ${asyncCommit}: stored, visible to other sessions, the session's setting untouched`, async (t) => {
    const repo = new PgTokenRepository(appDb, { asyncCommit });
    const one = token();
    t.equal(await repo.insertAccessForUsername(one), true);
    // A burst: one statement for all of them (the batched variant).
    const burst = Array.from({ length: 5 }, () => token());
    t.same(await Promise.all(burst.map((item) => repo.insertAccessForUsername(item))), [true, true, true, true, true]);
    t.equal(await repo.insertAccessForUsername(token('nobody')), false, 'no such owner: nothing stored');
    t.equal(await setting(), 'on', 'the pooled session still commits synchronously');

    const other = new pg.Client({ connectionString: url });
    await other.connect();
    try {
      const ids = [one, ...burst].map((item) => item.id);
      const { rows } = await other.query<{ id: string; scopes: string[] }>('SELECT id, scopes FROM access_tokens WHERE id = ANY($1::uuid[])', [ids]);
      t.equal(rows.length, 6, 'every acknowledged token is visible to another session at once');
      t.same(rows[0]!.scopes, ['default', 'openid']);
    } finally {
      await other.end();
    }
  });
}

t.test("the statement's transaction commits asynchronously, and only when asked", async (t) => {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  t.teardown(() => client.end());
  for (const [asyncCommit, inside] of [
    [true, 'off'],
    [false, 'on'],
  ] as const) {
    const row = token();
    const values = [[row.id], [row.appId], [row.username], ['default'], [row.grantType], [row.expiresAt], [row.issuedAt], [row.tenantId]];
    await client.query('BEGIN');
    const { rowCount } = await client.query({ ...insertAccessForUsername(asyncCommit), values });
    t.equal(rowCount, 1);
    const { rows } = await client.query<{ value: string }>("SELECT current_setting('synchronous_commit') AS value");
    t.equal(rows[0]!.value, inside, `asyncCommit ${asyncCommit}: synchronous_commit ${inside} for the commit of this transaction`);
    await client.query('COMMIT');
    const after = await client.query<{ value: string }>("SELECT current_setting('synchronous_commit') AS value");
    t.equal(after.rows[0]!.value, 'on', 'and back to the session default after it');
  }
});

t.test('insertGrant: the access and the refresh token of a grant, both or neither', async (t) => {
  const repo = new PgTokenRepository(appDb, { asyncCommit: false });
  const now = new Date();
  const expiresAt = new Date(now.getTime() + 3600_000);
  const familyId = randomUUID();
  const access = () => ({ id: randomUUID(), tenantId: T, appId, userId, scopes: ['default'], grantType: 'password', familyId, issuedAt: now, expiresAt });
  const refresh = (tokenHash: Buffer) => ({ id: randomUUID(), tenantId: T, tokenHash, familyId, appId, userId, scopes: ['default'], issuedAt: now, expiresAt });
  const count = async (table: string) => Number((await db.query<{ n: string }>(`SELECT count(*) AS n FROM ${table} WHERE family_id = $1`, [familyId])).rows[0]!.n);

  const hash = Buffer.alloc(32, 1);
  await repo.insertGrant(access(), refresh(hash));
  t.equal(await count('access_tokens'), 1);
  t.equal(await count('refresh_tokens'), 1);

  // The refresh token's INSERT fails (its hash is taken): the access token goes with it.
  const failing = access();
  await t.rejects(repo.insertGrant(failing, refresh(hash)));
  t.equal((await db.query('SELECT 1 FROM access_tokens WHERE id = $1', [failing.id])).rows.length, 0, 'no access token without its refresh token');
  t.equal(await count('access_tokens'), 1);
  t.equal(await count('refresh_tokens'), 1);
});
