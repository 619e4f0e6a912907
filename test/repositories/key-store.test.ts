/**
 * The key store's change poll against a migrated Postgres, as the server runs it (keys read over
 * dcr_app, the poll over the owner's connection): a tenant whose keys another instance rotated
 * signs with the new key after the next poll; a tenant the poll names again (its overlap looks 30 s
 * back) while it still signs with the key loaded here keeps that key loaded, with no reload. The
 * reloads are counted at the repository (listVerifying: one per load).
 */
import { randomBytes } from 'node:crypto';
import t from 'tap';
import { decodeProtectedHeader } from 'jose';
import { SecretBox } from '../../src/crypto/secret-box.js';
import { PgSigningKeyRepository } from '../../src/repositories/signing-keys.js';
import { KeyStore } from '../../src/services/signing-keys.js';
import { testKeyPairs } from '../fixtures/app.js';
import { testDatabase } from '../fixtures/db.js';

const { db, appDb } = await testDatabase(t);
await db.query("INSERT INTO tenants (id, domain) VALUES (1, 'a.com'), (2, 'b.com')");

const secrets = new SecretBox(randomBytes(32));
const repo = new PgSigningKeyRepository(appDb, db);
const loads = new Map<number, number>();
const listVerifying = repo.listVerifying.bind(repo);
repo.listVerifying = (tenant, grace) => {
  loads.set(tenant, (loads.get(tenant) ?? 0) + 1);
  return listVerifying(tenant, grace);
};

const pairs = testKeyPairs();
// This instance polls at every call (refreshMs 0); `other` is another instance over the database.
const here = new KeyStore(repo, secrets, 'RS256', 3600, pairs, 0);
const other = new KeyStore(new PgSigningKeyRepository(appDb, db), secrets, 'RS256', 3600, pairs, 0);

const kidOf = async (store: KeyStore, tenant: number) => decodeProtectedHeader(await (await store.signingKey(tenant)).sign('at+jwt', { sub: 'x' })).kid;
/** Lets the poll a call started (without holding that call up) finish. */
const settle = async () => {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setTimeout(resolve, 20));
};

t.test('tenantsChangedSince: each changed tenant with the kid it signs with now', async (t) => {
  const before = (await repo.tenantsChangedSince(undefined)).at;
  t.same((await repo.tenantsChangedSince(undefined)).tenants, [], 'without since: none');
  t.same((await repo.tenantsChangedSince(new Date())).tenants, [], 'nothing since now');
  const kidA = await kidOf(other, 1);
  const { tenants } = await repo.tenantsChangedSince(before);
  t.same(tenants, [{ tenant: 1, activeKid: kidA }], "tenant 1's first key, made by its first token");
  const rotated = await other.rotate(1);
  t.same((await repo.tenantsChangedSince(before)).tenants, [{ tenant: 1, activeKid: rotated }], 'after a rotation: the new kid');
});

t.test('the poll: a rotation elsewhere is picked up; a tenant named again with its kid unchanged is not reloaded', async (t) => {
  const first = await kidOf(here, 2);
  await settle();
  const loaded = loads.get(2);
  t.ok(loaded, "tenant 2's keys loaded here");
  // The next polls name tenant 2 again (its key is younger than the overlap): it keeps its keys.
  for (let i = 0; i < 3; i++) {
    t.equal(await kidOf(here, 2), first);
    await settle();
  }
  t.equal(loads.get(2), loaded, 'no reload while the poll names the tenant with the kid loaded here');

  const rotated = await other.rotate(2);
  t.not(rotated, first);
  await kidOf(here, 2); // starts the poll that sees the rotation
  await settle();
  t.equal(await kidOf(here, 2), rotated, 'signs with the key another instance rotated to, after one poll');
  t.equal(loads.get(2), loaded! + 1, 'one reload');
});
