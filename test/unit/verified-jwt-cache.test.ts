/**
 * VerifiedJwtCache (src/cache/verified-jwt-cache.ts) with an injected clock: what it remembers,
 * for how long, and what it never remembers. That a cached token is still refused at once when
 * revoked, or when its user is deleted, is tested through the app in test/http/oauth-bearer.test.ts.
 */
import t from 'tap';
import { VerifiedJwtCache } from '../../src/cache/verified-jwt-cache.js';
import { SUPER_TENANT } from '../../src/domain/tenants.js';

/** The tenant the tokens below were verified for. */
const T = SUPER_TENANT.id;

function clock(start = 1_700_000_000_000) {
  let now = start;
  return {
    now: () => now,
    advance: (ms: number) => {
      now += ms;
    },
  };
}

const TOKEN = 'eyJhbGciOiJFUzI1NiJ9.eyJqdGkiOiJhIn0.c2lnbmF0dXJl';

t.test('a verified token is remembered with its jti', async (t) => {
  const c = clock();
  const cache = new VerifiedJwtCache(100, 60_000, c.now);
  t.equal(cache.get(T, TOKEN), undefined);
  cache.add(T, TOKEN, { jti: 'jti-1', exp: c.now() / 1000 + 3600 });
  t.equal(cache.get(T, TOKEN), 'jti-1');
  t.equal(cache.size, 1);
});

t.test('any other string misses, even one differing in a single character', async (t) => {
  const c = clock();
  const cache = new VerifiedJwtCache(100, 60_000, c.now);
  cache.add(T, TOKEN, { jti: 'jti-1', exp: c.now() / 1000 + 3600 });
  t.equal(cache.get(T, `${TOKEN.slice(0, -1)}x`), undefined, 'another signature');
  t.equal(cache.get(T, TOKEN.replace('eyJqdGkiOiJhIn0', 'eyJqdGkiOiJiIn0')), undefined, 'another payload, same signature');
  t.equal(cache.get(T, `${TOKEN} `), undefined);
});

t.test('a token verified for one tenant is unknown to every other', async (t) => {
  const c = clock();
  const cache = new VerifiedJwtCache(100, 60_000, c.now);
  cache.add(T, TOKEN, { jti: 'jti-1', exp: c.now() / 1000 + 3600 });
  t.equal(cache.get(1, TOKEN), undefined, 'another tenant');
  cache.add(1, TOKEN, { jti: 'jti-of-1', exp: c.now() / 1000 + 3600 });
  t.equal(cache.get(T, TOKEN), 'jti-1', 'each tenant its own entry');
  t.equal(cache.get(1, TOKEN), 'jti-of-1');
});

t.test('an entry dies at the token expiry (whole seconds, as jose judges it)', async (t) => {
  const c = clock();
  const cache = new VerifiedJwtCache(100, 60_000, c.now);
  const exp = c.now() / 1000 + 10;
  cache.add(T, TOKEN, { jti: 'jti-1', exp });
  c.advance(9_999);
  t.equal(cache.get(T, TOKEN), 'jti-1', '1 ms before exp');
  c.advance(1);
  t.equal(cache.get(T, TOKEN), undefined, 'at exp');
  t.equal(cache.size, 0, 'dropped');
});

t.test('an entry lives at most maxAgeMs, however long the token lives', async (t) => {
  const c = clock();
  const cache = new VerifiedJwtCache(100, 60_000, c.now);
  cache.add(T, TOKEN, { jti: 'jti-1', exp: c.now() / 1000 + 3600 });
  c.advance(59_999);
  t.equal(cache.get(T, TOKEN), 'jti-1');
  c.advance(1);
  t.equal(cache.get(T, TOKEN), undefined, 'verified again after maxAgeMs');
});

t.test('never remembered: expired tokens, tokens without exp, tokens not yet valid; nothing with size 0', async (t) => {
  const c = clock();
  const cache = new VerifiedJwtCache(100, 60_000, c.now);
  cache.add(T, TOKEN, { jti: 'a', exp: c.now() / 1000 });
  cache.add(T, `${TOKEN}1`, { jti: 'b' });
  cache.add(T, `${TOKEN}2`, { jti: 'c', exp: c.now() / 1000 + 60, nbf: c.now() / 1000 + 1 });
  t.equal(cache.size, 0);
  const off = new VerifiedJwtCache(0, 60_000, c.now);
  off.add(T, TOKEN, { jti: 'a', exp: c.now() / 1000 + 60 });
  t.equal(off.get(T, TOKEN), undefined);
});

t.test('a token whose nbf has passed is remembered (every token this server signs has one)', async (t) => {
  const c = clock();
  const cache = new VerifiedJwtCache(100, 60_000, c.now);
  cache.add(T, TOKEN, { jti: 'now', exp: c.now() / 1000 + 60, nbf: c.now() / 1000 });
  cache.add(T, `${TOKEN}1`, { jti: 'past', exp: c.now() / 1000 + 60, nbf: c.now() / 1000 - 30 });
  t.equal(cache.get(T, TOKEN), 'now');
  t.equal(cache.get(T, `${TOKEN}1`), 'past');
});

t.test('at most maxEntries: the oldest entry goes first', async (t) => {
  const c = clock();
  const cache = new VerifiedJwtCache(3, 60_000, c.now);
  for (const n of [1, 2, 3, 4]) cache.add(T, `${TOKEN}${n}`, { jti: `jti-${n}`, exp: c.now() / 1000 + 60 });
  t.equal(cache.size, 3);
  t.equal(cache.get(T, `${TOKEN}1`), undefined, 'evicted');
  t.equal(cache.get(T, `${TOKEN}4`), 'jti-4');
});
