/**
 * LoginThrottle's policy with an injected clock: a (user name, address) pair is refused after its
 * failures, an address after its own, a user name under attack from everywhere is only delayed
 * (progressively), a known address escapes both, and attempts are counted before they are checked.
 */
import t from 'tap';
import { LoginThrottle } from '../../src/services/login-throttle.js';

const SETTINGS = { windowMs: 60_000, maxFailures: 3, maxFailuresPerAddress: 10, delayBaseMs: 100, delayMaxMs: 1_000 };

function clocked() {
  const clock = { now: 1_000_000 };
  return { clock, throttle: new LoginThrottle(SETTINGS, () => clock.now) };
}

/** `n` failed checks (begun, never succeeded). */
function fail(throttle: LoginThrottle, username: string, address: string, n: number) {
  return Array.from({ length: n }, () => throttle.begin(username, address));
}

t.test('one pair is refused; the same name from another address is not', async (t) => {
  const { clock, throttle } = clocked();
  t.same(fail(throttle, 'admin', 'attacker', 4).map((a) => a.retryAfter), [0, 0, 0, 60], 'the 4th attempt of the pair is refused, for the window');
  const real = throttle.begin('admin', 'office');
  t.equal(real.retryAfter, 0, 'the real admin from elsewhere may try');
  clock.now += 30_000;
  t.equal(throttle.begin('admin', 'attacker').retryAfter, 30, 'Retry-After counts down to the oldest failure leaving the window');
  clock.now += 30_001;
  t.equal(throttle.begin('admin', 'attacker').retryAfter, 0, 'then the pair may try again');
});

t.test('a name under attack from many addresses is delayed, progressively, never refused', async (t) => {
  const { throttle } = clocked();
  // Three addresses, one failure each: none is over its own limits, the name reaches its limit.
  for (const address of ['a1', 'a2', 'a3']) fail(throttle, 'admin', address, 1);
  const delays = ['a4', 'a5', 'a6', 'a7', 'a8', 'a9'].map((address) => throttle.begin('admin', address));
  t.same(delays.map((a) => a.retryAfter), [0, 0, 0, 0, 0, 0], 'no address is refused');
  t.same(delays.map((a) => a.delayMs), [100, 200, 400, 800, 1_000, 1_000], 'the delay doubles per failure beyond the limit, up to its maximum');
  t.equal(throttle.begin('carol', 'a9').delayMs, 0, 'other names are not delayed');
});

t.test('a known address: neither delayed for its user nor refused by the address limit', async (t) => {
  const { throttle } = clocked();
  throttle.begin('admin', 'office').succeeded();
  for (const address of ['a1', 'a2', 'a3', 'a4']) fail(throttle, 'admin', address, 1);
  t.ok(throttle.begin('admin', 'elsewhere').delayMs > 0, 'a new address waits');
  t.equal(throttle.begin('admin', 'office').delayMs, 0, 'the address the admin logged in from does not');
  // Password spraying from the office (a shared address): the address limit trips...
  for (let i = 0; i < 10; i++) throttle.begin(`sprayed${i}`, 'office');
  t.ok(throttle.begin('someone', 'office').retryAfter > 0, '...for names that never logged in from there');
  t.equal(throttle.begin('admin', 'office').retryAfter, 0, 'not for a user who did');
});

t.test('success clears the pair, not the name: the attacker gains nothing from the real login', async (t) => {
  const { throttle } = clocked();
  fail(throttle, 'bob', 'home', 2);
  throttle.begin('bob', 'home').succeeded();
  t.same(fail(throttle, 'bob', 'home', 3).map((a) => a.retryAfter), [0, 0, 0], "the pair's count started over");
  for (const address of ['x1', 'x2']) fail(throttle, 'bob', address, 1);
  t.ok(throttle.begin('bob', 'x3').delayMs > 0, 'the name keeps its failures from all addresses');
});

t.test('attempts are counted when they begin: concurrent guesses cannot all pass', async (t) => {
  const { throttle } = clocked();
  const burst = fail(throttle, 'erin', 'a1', 5);
  t.same(burst.map((a) => a.retryAfter), [0, 0, 0, 60, 60], 'the 4th concurrent attempt is refused before any has failed');
  burst[0]!.succeeded();
  t.equal(throttle.begin('erin', 'a1').retryAfter, 0, 'a success frees the pair');
});

t.test('the address limit, and failures that name no user', async (t) => {
  const { clock, throttle } = clocked();
  for (let i = 0; i < 9; i++) throttle.begin(`user${i}`, 'a2');
  t.equal(throttle.addressRetryAfter('a2'), 0);
  throttle.recordAddressFailure('a2');
  t.ok(throttle.addressRetryAfter('a2') > 0, 'a malformed header counts against the address like any failure');
  t.ok(throttle.begin('anyone', 'a2').retryAfter > 0, 'and the address is refused for every name');
  clock.now += 60_001;
  t.equal(throttle.begin('anyone', 'a2').retryAfter, 0, 'until the window moves on');
});

t.test('maxFailures 0 turns it off', async (t) => {
  const off = new LoginThrottle({ windowMs: 2000, maxFailures: 0, maxFailuresPerAddress: 1 });
  t.same(fail(off, 'x', 'y', 3).map((a) => [a.retryAfter, a.delayMs]), [[0, 0], [0, 0], [0, 0]]);
  t.equal(off.addressRetryAfter('y'), 0);
});
