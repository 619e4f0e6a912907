/**
 * Postgres failures as domain errors (src/db/errors.ts), by SQLSTATE and by phase, never by
 * message text; and the Database wrapper producing them from real failures.
 */
import t from 'tap';
import pg from 'pg';
import { Database } from '../../src/db/database.js';
import { DatabaseUnavailable, ForeignKeyViolation, UniqueViolation, mapConnectError, mapQueryError } from '../../src/db/errors.js';
import { testDatabase } from '../fixtures/db.js';

/** What pg's DatabaseError looks like: an Error subclass with a SQLSTATE `code`. */
function pgError(code: string, fields: Record<string, unknown> = {}): Error {
  const err = new pg.DatabaseError(`simulated ${code}`, 0, 'error');
  return Object.assign(err, { code, ...fields });
}

/** What Node's net layer throws: a plain Error with an errno `code`. */
function errnoError(code: string): Error {
  return Object.assign(new Error(`connect ${code} 127.0.0.1:1`), { code, errno: -111, syscall: 'connect' });
}

t.test('mapQueryError', async (t) => {
  t.test('23505 → UniqueViolation carrying the constraint', async (t) => {
    const mapped = mapQueryError(pgError('23505', { constraint: 'users_username_ci_key' }));
    t.type(mapped, UniqueViolation);
    t.equal((mapped as UniqueViolation).constraint, 'users_username_ci_key');
    t.match((mapped as Error).message, /users_username_ci_key/);
    const anonymous = mapQueryError({ code: '23505' });
    t.type(anonymous, UniqueViolation);
    t.equal((anonymous as UniqueViolation).constraint, undefined);
  });

  t.test('23503 → ForeignKeyViolation carrying the constraint', async (t) => {
    const mapped = mapQueryError(pgError('23503', { constraint: 'access_tokens_app_id_fkey' }));
    t.type(mapped, ForeignKeyViolation);
    t.equal((mapped as ForeignKeyViolation).constraint, 'access_tokens_app_id_fkey');
    t.match((mapped as Error).message, /access_tokens_app_id_fkey/);
  });

  const unavailable: [string, Error | Record<string, unknown>][] = [
    ['57014 query_canceled (statement_timeout)', pgError('57014')],
    ['08006 connection_failure', pgError('08006')],
    ['08001 unable to connect', pgError('08001')],
    ['08P01 protocol violation (class 08)', pgError('08P01')],
    ['57P01 admin_shutdown', pgError('57P01')],
    ['57P02 crash_shutdown', pgError('57P02')],
    ['57P03 cannot_connect_now', pgError('57P03')],
    ['53300 too_many_connections', pgError('53300')],
    ['40001 serialization_failure', pgError('40001')],
    ['40P01 deadlock_detected', pgError('40P01')],
    ['ECONNREFUSED', errnoError('ECONNREFUSED')],
    ['ECONNRESET', errnoError('ECONNRESET')],
    ['ETIMEDOUT', errnoError('ETIMEDOUT')],
    ['ENOTFOUND', errnoError('ENOTFOUND')],
    ['a plain Error without a code (pg: "Connection terminated unexpectedly")', new Error('Connection terminated unexpectedly')],
    ['a plain Error without a code (pg: "Query read timeout")', new Error('Query read timeout')],
  ];
  for (const [label, err] of unavailable) {
    t.test(`${label} → DatabaseUnavailable`, async (t) => {
      const mapped = mapQueryError(err);
      t.type(mapped, DatabaseUnavailable);
      t.equal((mapped as DatabaseUnavailable).cause, err, 'the original is kept as cause');
      t.equal((mapped as Error).message, 'database unavailable', 'no driver text in the message');
    });
  }

  const passThrough: [string, unknown][] = [
    ['42601 syntax_error', pgError('42601')],
    ['42P01 undefined_table', pgError('42P01')],
    ['22P02 invalid_text_representation', pgError('22P02')],
    ['23502 not_null_violation', pgError('23502')],
    ['23514 check_violation', pgError('23514')],
    ['an unrelated errno', errnoError('EACCES')],
    ['a TypeError (a bug, not an outage)', new TypeError('x is not a function')],
    ['a RangeError', new RangeError('out of range')],
    ['a domain error', new UniqueViolation('c')],
    ['a string', 'boom'],
    ['null', null],
    ['undefined', undefined],
    ['a numeric code', { code: 23505 }],
  ];
  for (const [label, err] of passThrough) {
    t.equal(mapQueryError(err), err, `${label} passes through`);
  }

  t.test('the message text is never consulted', async (t) => {
    t.type(mapQueryError(pgError('42601', { message: 'connection terminated' })), pg.DatabaseError);
    t.type(mapQueryError(pgError('57014', { message: 'syntax error' })), DatabaseUnavailable);
  });
});

t.test('mapConnectError: any failure to connect is an outage', async (t) => {
  for (const err of [errnoError('ECONNREFUSED'), pgError('28P01'), new Error('timeout exceeded when trying to connect'), 'x']) {
    const mapped = mapConnectError(err);
    t.type(mapped, DatabaseUnavailable);
    t.equal(mapped.cause, err);
  }
});

t.test('Database against a live server', async (t) => {
  const { db } = await testDatabase(t, { timeoutMs: 500 });

  t.test('a syntax error (42601) passes through as pg.DatabaseError', async (t) => {
    await t.rejects(db.query('SELEC 1'), { code: '42601' });
    const err = await db.query('SELEC 1').catch((e: unknown) => e);
    t.type(err, pg.DatabaseError);
    t.notOk(err instanceof DatabaseUnavailable);
    t.same((await db.query<{ one: number }>('SELECT 1 AS one')).rows, [{ one: 1 }], 'the pool still works');
  });

  t.test('a unique violation (23505) is UniqueViolation with the constraint name', async (t) => {
    await db.query(`INSERT INTO users (id, username, password_hash) VALUES (gen_random_uuid(), 'dup', 'h')`);
    await t.rejects(db.query(`INSERT INTO users (id, username, password_hash) VALUES (gen_random_uuid(), 'DUP', 'h')`), {
      name: 'UniqueViolation',
      constraint: 'users_username_ci_key',
    });
  });

  t.test('statement_timeout (57014) is DatabaseUnavailable', async (t) => {
    const started = Date.now();
    const err = await db.query('SELECT pg_sleep(5)').catch((e: unknown) => e);
    t.type(err, DatabaseUnavailable);
    t.equal(((err as DatabaseUnavailable).cause as { code?: string }).code, '57014');
    t.ok(Date.now() - started < 3000, `cancelled after ${Date.now() - started} ms`);
    t.same((await db.query<{ one: number }>('SELECT 1 AS one')).rows, [{ one: 1 }], 'the pool recovers');
  });

  t.test('a failed transaction leaves no rows behind', async (t) => {
    const before = Number((await db.query<{ n: string }>('SELECT count(*) AS n FROM users')).rows[0]!.n);
    await t.rejects(
      db.transaction(async (tx) => {
        await tx.query(`INSERT INTO users (id, username, password_hash) VALUES (gen_random_uuid(), 'tx-user', 'h')`);
        await tx.query(`INSERT INTO users (id, username, password_hash) VALUES (gen_random_uuid(), 'TX-USER', 'h')`);
      }),
      UniqueViolation,
    );
    const after = Number((await db.query<{ n: string }>('SELECT count(*) AS n FROM users')).rows[0]!.n);
    t.equal(after, before);
  });
});

t.test('Database against an unreachable server rejects with DatabaseUnavailable within about a second', async (t) => {
  const db = new Database({ connectionString: 'postgres://u:p@127.0.0.1:1/x', poolSize: 2, timeoutMs: 500 });
  t.teardown(() => db.close());
  for (const run of [() => db.query('SELECT 1'), () => db.ping(), () => db.transaction(async () => 1)]) {
    const started = Date.now();
    const err = await run().catch((e: unknown) => e);
    const elapsed = Date.now() - started;
    t.type(err, DatabaseUnavailable);
    t.ok(elapsed < 1500, `rejected after ${elapsed} ms`);
  }
});

t.test('a server that accepts but never answers: bounded by the connection timeout', async (t) => {
  const net = await import('node:net');
  const sockets = new Set<import('node:net').Socket>();
  const silent = net.createServer((socket) => {
    sockets.add(socket);
  });
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  t.teardown(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => silent.close(resolve));
  });
  const { port } = silent.address() as import('node:net').AddressInfo;
  const db = new Database({ connectionString: `postgres://u:p@127.0.0.1:${port}/x`, poolSize: 1, timeoutMs: 500 });
  t.teardown(() => db.close());
  const started = Date.now();
  const err = await db.query('SELECT 1').catch((e: unknown) => e);
  const elapsed = Date.now() - started;
  t.type(err, DatabaseUnavailable);
  t.ok(elapsed >= 400 && elapsed < 2000, `rejected after ${elapsed} ms`);
});
