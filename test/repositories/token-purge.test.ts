/**
 * PgTokenRepository.purgeExpired against a real, migrated PostgreSQL: expired access tokens go,
 * unexpired ones stay (revoked or not); a refresh token goes only when no token of its family can
 * still be used, so that a replayed refresh token is still detected while its family lives; the
 * limit bounds each DELETE; two purges at once (two instances) neither fail nor delete twice.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import t from 'tap';
import { SUPER_TENANT } from '../../src/domain/tenants.js';
import { PgTokenRepository } from '../../src/repositories/tokens.js';
import { ownerAndApp, testDatabase } from '../fixtures/db.js';

const HOUR = 3600_000;

const { db, appDb } = await testDatabase(t, { poolSize: 4 });
// The purge is upkeep, over the owner's connection (as the server's maintenance pool); the tokens
// are issued, revoked and consumed as requests do, as dcr_app within the super tenant.
const repo = new PgTokenRepository(db);
const requests = new PgTokenRepository(appDb);
const T = SUPER_TENANT.id;
const { userId, appId } = await ownerAndApp(db);

/** What every token row here shares: a new id, this app and user, expiring `inMs` from now (negative: expired), issued an hour before. */
function tokenFields(inMs: number) {
  const expiresAt = new Date(Date.now() + inMs);
  return {
    id: randomUUID(),
    tenantId: T,
    tokenHash: randomBytes(32),
    appId,
    userId,
    scopes: ['default'],
    issuedAt: new Date(expiresAt.getTime() - HOUR),
    expiresAt,
  };
}

async function access(inMs: number, familyId: string | null = null): Promise<string> {
  const token = { ...tokenFields(inMs), grantType: 'password', familyId };
  await requests.insertAccess(token);
  return token.id;
}

async function refresh(inMs: number, familyId: string): Promise<string> {
  const token = { ...tokenFields(inMs), familyId };
  await requests.insertRefresh(token);
  return token.id;
}

const ids = async (table: 'access_tokens' | 'refresh_tokens') =>
  new Set((await db.query<{ id: string }>(`SELECT id FROM ${table}`)).rows.map((row) => row.id));

t.beforeEach(async () => {
  await db.query('DELETE FROM access_tokens');
  await db.query('DELETE FROM refresh_tokens');
});

t.test('expired access tokens go; unexpired ones stay, revoked or not', async (t) => {
  const expired = [await access(-HOUR), await access(-1_000)];
  const live = await access(HOUR);
  const revoked = await access(HOUR);
  t.equal(await requests.revokeAccess(T, revoked, appId, false), true);

  t.strictSame(await repo.purgeExpired(100), { access: 2, refresh: 0 });
  const left = await ids('access_tokens');
  t.strictSame([...left].sort(), [live, revoked].sort());
  for (const id of expired) t.notOk(left.has(id));
  t.strictSame(await repo.purgeExpired(100), { access: 0, refresh: 0 }, 'a second pass finds nothing');
});

t.test('each DELETE takes at most `limit` rows, the oldest first', async (t) => {
  const oldest = await access(-3 * HOUR);
  for (let i = 0; i < 6; i++) await access(-HOUR);
  t.strictSame(await repo.purgeExpired(3), { access: 3, refresh: 0 });
  t.notOk((await ids('access_tokens')).has(oldest), 'the oldest went in the first batch');
  t.strictSame(await repo.purgeExpired(3), { access: 3, refresh: 0 });
  t.strictSame(await repo.purgeExpired(3), { access: 1, refresh: 0 });
  t.equal((await ids('access_tokens')).size, 0);
});

t.test('a refresh token goes with its whole family only', async (t) => {
  const dead = randomUUID();
  const deadTokens = [await refresh(-2 * HOUR, dead), await refresh(-HOUR, dead)];
  const living = randomUUID();
  // The first token of this family was used and has expired; its successor is still valid. A
  // replay of the first must still be recognised (and revoke the family), so it must stay.
  const used = await refresh(-HOUR, living);
  await db.query('UPDATE refresh_tokens SET used_at = now() WHERE id = $1', [used]);
  const successor = await refresh(HOUR, living);

  t.strictSame(await repo.purgeExpired(100), { access: 0, refresh: 2 });
  const left = await ids('refresh_tokens');
  t.strictSame([...left].sort(), [used, successor].sort());
  for (const id of deadTokens) t.notOk(left.has(id));

  const replay = await db.query<{ token_hash: Buffer }>('SELECT token_hash FROM refresh_tokens WHERE id = $1', [used]);
  t.strictSame(await requests.consumeRefresh(T, replay.rows[0]!.token_hash, appId), { outcome: 'reused', familyId: living }, 'the replay is still caught');

  // Once the successor has expired too, the family is gone whole.
  await db.query("UPDATE refresh_tokens SET expires_at = now() - interval '1 second' WHERE id = $1", [successor]);
  t.strictSame(await repo.purgeExpired(100), { access: 0, refresh: 2 });
  t.equal((await ids('refresh_tokens')).size, 0);
});

t.test('two purges at once (two instances) share the rows without failing', async (t) => {
  for (let i = 0; i < 40; i++) await access(-HOUR);
  const other = new PgTokenRepository(db);
  const passes = await Promise.all([repo.purgeExpired(10), other.purgeExpired(10), repo.purgeExpired(10), other.purgeExpired(10)]);
  t.equal(
    passes.reduce((sum, pass) => sum + pass.access, 0),
    40,
    'every row deleted exactly once',
  );
  t.equal((await ids('access_tokens')).size, 0);
});
