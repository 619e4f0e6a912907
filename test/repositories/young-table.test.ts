/**
 * YoungTableAnalyzer against a real PostgreSQL: a table whose statistics say it holds fewer rows
 * than this process inserted is analysed once, past the threshold; a table with current
 * statistics is not; and a burst of registrations on a fresh database leaves `applications` with
 * statistics at once, so its prepared statements are planned for an index (not for an empty table).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import t from 'tap';
import { randomWso2Token } from '../../src/crypto/random.js';
import { SecretBox } from '../../src/crypto/secret-box.js';
import { YoungTableAnalyzer } from '../../src/db/young-table.js';
import { SUPER_TENANT } from '../../src/domain/tenants.js';
import { PgApplicationRepository } from '../../src/repositories/applications.js';
import { eventually } from '../fixtures/server-process.js';
import { insertUser, testDatabase } from '../fixtures/db.js';

const { db, appDb } = await testDatabase(t);
const adminId = await insertUser(db, 'admin');

const reltuples = async (table: string) =>
  (await db.query<{ reltuples: number }>('SELECT reltuples FROM pg_class WHERE oid = $1::regclass', [table])).rows[0]!.reltuples;

t.test('analysed once, past the threshold, when the statistics lag behind what was inserted', async (t) => {
  await db.query('CREATE TABLE young (id int PRIMARY KEY, v text)');
  await db.query(`INSERT INTO young SELECT g, 'x' FROM generate_series(1, 1500) g`);
  t.equal(await reltuples('young'), -1, 'never analysed yet');

  const analyzer = new YoungTableAnalyzer(db, 'young', 1_000);
  analyzer.recordInserts(600);
  t.equal(analyzer.checked(), undefined, 'below the threshold: not even a look');
  analyzer.recordInserts(900);
  t.equal(await analyzer.checked(), true, 'past it: analysed');
  t.equal(await reltuples('young'), 1500);
  analyzer.recordInserts(5_000);
  t.equal(await analyzer.checked(), true, 'once only');

  // A later process over the same, now analysed table: one look, no ANALYZE.
  const later = new YoungTableAnalyzer(db, 'young', 1_000);
  later.recordInserts(1_200);
  t.equal(await later.checked(), false, 'current statistics: left alone');
});

t.test('a failed check is left to autovacuum, quietly', async (t) => {
  const analyzer = new YoungTableAnalyzer(db, 'no_such_table', 10);
  analyzer.recordInserts(10);
  t.equal(await analyzer.checked(), false);
});

t.test('a first burst of registrations leaves applications with statistics at once', async (t) => {
  // As the server builds it: registrations as dcr_app, the ANALYZE as the table's owner.
  const repo = new PgApplicationRepository(appDb, new SecretBox(randomBytes(32)), db);
  const app = (i: number) => ({
    id: randomUUID(),
    tenantId: SUPER_TENANT.id,
    clientId: randomWso2Token(),
    clientSecret: randomWso2Token(),
    clientName: `burst_${i}`,
    owner: 'admin',
    ownerId: adminId,
    grantTypes: ['client_credentials'],
    callbackUrl: null,
    saasApp: false,
    tokenType: 'DEFAULT',
    userStoreDomainInSubject: false,
  });
  // Concurrent calls: the batched statement, as under load.
  for (let start = 0; start < 1_100; start += 100) {
    await Promise.all(Array.from({ length: 100 }, (_, i) => repo.insertOrFind(app(start + i))));
  }
  t.ok(await eventually(async () => (await reltuples('applications')) >= 1_000, 5_000), 'the statistics count the burst');
});
