/**
 * A burst of logins with credentials that are not cached yet (test/reliability/concurrency.test.ts
 * found it: 100 concurrent first requests by one user ran 100 scrypt hashes, which queued ahead of
 * the pg driver's SCRAM handshakes on libuv's thread pool, so new database connections timed out:
 * 19 × 503 and 4 client timeouts, 30 s). Two fixes, tested here:
 * - CredentialCache.check: concurrent checks of one credential share one verification;
 * - withKdfSlot: at most KDF_CONCURRENCY key derivations run at once, the rest wait in JavaScript.
 */
import { randomBytes } from 'node:crypto';
import t from 'tap';
import { KDF_CONCURRENCY, PasswordHasher, withKdfSlot } from '../../src/crypto/passwords.js';
import { SecretBox } from '../../src/crypto/secret-box.js';
import { createServices } from '../../src/runtime/composition.js';
import { CredentialCache } from '../../src/cache/credential-cache.js';
import { ADMIN, ADMIN_PASSWORD, TEST_SERVICE_CONFIG, basic, superTenantSignIn } from '../fixtures/app.js';
import { testDatabase } from '../fixtures/db.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

t.test('CredentialCache.check', async (t) => {
  t.test('concurrent checks of one credential share one verification, then it is cached', async (t) => {
    const cache = new CredentialCache(60_000);
    let calls = 0;
    const verify = async () => {
      calls++;
      await sleep(20);
      return true;
    };
    const results = await Promise.all(Array.from({ length: 50 }, () => cache.check('alice', 'pw', 'hash-1', verify)));
    t.strictSame(new Set(results), new Set([true]), 'all 50 succeed');
    t.equal(calls, 1, 'one verification');
    t.equal(await cache.check('alice', 'pw', 'hash-1', verify), true);
    t.equal(calls, 1, 'the next check is served from the cache');
  });

  t.test('different credentials never share a result', async (t) => {
    const cache = new CredentialCache(60_000);
    const seen: string[] = [];
    const verifyAs = (password: string) => async () => {
      seen.push(password);
      await sleep(10);
      return password === 'right';
    };
    const [right, wrong, otherHash, otherUser] = await Promise.all([
      cache.check('alice', 'right', 'hash-1', verifyAs('right')),
      cache.check('alice', 'wrong', 'hash-1', verifyAs('wrong')),
      cache.check('alice', 'right', 'hash-2', verifyAs('right')),
      cache.check('bob', 'right', 'hash-1', verifyAs('right')),
    ]);
    t.strictSame({ right, wrong, otherHash, otherUser }, { right: true, wrong: false, otherHash: true, otherUser: true });
    t.equal(seen.length, 4, 'four verifications');
  });

  t.test('a failure is shared by the checks in flight but never remembered', async (t) => {
    const cache = new CredentialCache(60_000);
    let calls = 0;
    const wrong = async () => {
      calls++;
      await sleep(10);
      return false;
    };
    const results = await Promise.all(Array.from({ length: 5 }, () => cache.check('alice', 'bad', 'hash-1', wrong)));
    t.strictSame(results, [false, false, false, false, false]);
    t.equal(calls, 1);
    t.equal(await cache.check('alice', 'bad', 'hash-1', wrong), false);
    t.equal(calls, 2, 'the next check verifies again');
    t.equal(cache.size, 0);
  });

  t.test('a verification that throws rejects its waiters and is not remembered', async (t) => {
    const cache = new CredentialCache(60_000);
    const failing = async (): Promise<boolean> => {
      await sleep(5);
      throw new Error('boom');
    };
    const results = await Promise.allSettled([cache.check('a', 'p', 'h', failing), cache.check('a', 'p', 'h', failing)]);
    t.strictSame(results.map((r) => r.status), ['rejected', 'rejected']);
    t.equal(await cache.check('a', 'p', 'h', async () => true), true, 'a later check runs its own verification');
  });

  t.test('with a TTL of 0, checks in flight are shared and nothing is remembered', async (t) => {
    const cache = new CredentialCache(0);
    let calls = 0;
    const verify = async () => {
      calls++;
      await sleep(10);
      return true;
    };
    await Promise.all([cache.check('a', 'p', 'h', verify), cache.check('a', 'p', 'h', verify)]);
    t.equal(calls, 1);
    await cache.check('a', 'p', 'h', verify);
    t.equal(calls, 2);
    t.equal(cache.size, 0);
  });
});

t.test('withKdfSlot: at most KDF_CONCURRENCY derivations at once, in arrival order', async (t) => {
  if (!process.env.UV_THREADPOOL_SIZE) t.equal(KDF_CONCURRENCY, 2, 'two with the default thread pool of 4');
  let running = 0;
  let peak = 0;
  const started: number[] = [];
  await Promise.all(
    Array.from({ length: 12 }, (_, index) =>
      withKdfSlot(async () => {
        started.push(index);
        running++;
        peak = Math.max(peak, running);
        await sleep(5);
        running--;
        if (index === 3) throw new Error('a failed derivation frees its slot');
      }).catch(() => undefined),
    ),
  );
  t.equal(peak, KDF_CONCURRENCY);
  t.strictSame(started, Array.from({ length: 12 }, (_, index) => index));
  // The production cost, bounded: 6 hashes still all complete.
  const hasher = new PasswordHasher();
  const stored = await hasher.hash('pw');
  const checks = await Promise.all(Array.from({ length: 6 }, (_, i) => hasher.verify(i % 2 ? 'pw' : 'nope', stored)));
  t.strictSame(checks, [false, true, false, true, false, true]);
});

t.test('Authenticator: 50 concurrent first logins of one user cost one hash', async (t) => {
  const { db, appDb } = await testDatabase(t);
  let verifications = 0;
  class CountingHasher extends PasswordHasher {
    override async verify(password: string, stored: string): Promise<boolean> {
      verifications++;
      return super.verify(password, stored);
    }
  }
  const services = createServices(TEST_SERVICE_CONFIG, { db: appDb, maintenance: db, secrets: new SecretBox(randomBytes(32)), hasher: new CountingHasher({ ln: 12, r: 8, p: 1 }) });
  await services.users.bootstrapAdmin(ADMIN_PASSWORD, undefined);
  const callers = await Promise.all(Array.from({ length: 50 }, () => services.auth.authenticateBasic(superTenantSignIn, basic(ADMIN, ADMIN_PASSWORD))));
  t.strictSame(new Set(callers.map((caller) => caller.username)), new Set([ADMIN]), 'all 50 authenticated');
  t.equal(verifications, 1, 'one verification');
  const rejected = await Promise.allSettled(Array.from({ length: 5 }, () => services.auth.authenticateBasic(superTenantSignIn, basic(ADMIN, 'wrong-password'))));
  t.strictSame(rejected.map((r) => r.status), ['rejected', 'rejected', 'rejected', 'rejected', 'rejected'], 'a wrong password still fails');
});
