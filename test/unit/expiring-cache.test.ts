import t from 'tap';
import { ExpiringCache } from '../../src/cache/expiring-cache.js';

// The one cache under every other: entries die at their time, and at most maxEntries are kept,
// the least recently used going first to within half the bound.

function clock(start = 1_000_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => void (now += ms) };
}

t.test('an entry lives until its time; a time already past stores nothing', async (t) => {
  const c = clock();
  const cache = new ExpiringCache<string>({ maxEntries: 10, now: c.now });
  cache.set('a', 'A', 1000);
  cache.setUntil('past', 'P', c.now());
  t.equal(cache.get('a'), 'A');
  t.equal(cache.get('past'), undefined);
  c.advance(999);
  t.equal(cache.get('a'), 'A');
  c.advance(1);
  t.equal(cache.get('a'), undefined, 'expired at its time');
  t.equal(cache.size, 0, 'and dropped when read');
  cache.set('zero', 'Z', 0);
  t.equal(cache.size, 0, 'a lifetime of 0 stores nothing');
  t.equal(new ExpiringCache<string>({ maxEntries: 0 }).get('x'), undefined);
});

t.test('at most maxEntries: the oldest written and unread goes first', async (t) => {
  const cache = new ExpiringCache<number>({ maxEntries: 3 });
  for (const n of [1, 2, 3, 4]) cache.set(String(n), n, 60_000);
  t.equal(cache.size, 3);
  t.equal(cache.get('1'), undefined, 'evicted');
  t.same([...cache.keys()], ['2', '3', '4']);
  cache.set('3', 33, 60_000);
  cache.set('5', 5, 60_000);
  t.same([...cache.keys()], ['4', '3', '5'], 'a rewrite counts as the newest');
});

t.test('a read in the older half counts as the newest; one in the newer half stays in place', async (t) => {
  const cache = new ExpiringCache<number>({ maxEntries: 10 });
  for (let n = 0; n < 10; n++) cache.set(String(n), n, 60_000);
  t.equal(cache.get('8'), 8, 'written 2 writes ago: in the newer half');
  t.equal([...cache.keys()].at(-2), '8', 'not moved');
  t.equal(cache.get('2'), 2, 'written 8 writes ago: in the older half');
  t.equal([...cache.keys()].at(-1), '2', 'moved to the newest end');
  for (let n = 10; n < 18; n++) cache.set(String(n), n, 60_000);
  t.equal(cache.get('2'), 2, 'read once in the older half: it outlived the 8 written after');
  t.equal(cache.get('3'), undefined, 'an unread one of its age did not');
});

t.test('a working set read in turn, within the bound, survives a stream of new entries', async (t) => {
  const cache = new ExpiringCache<number>({ maxEntries: 1000 });
  const hot = Array.from({ length: 400 }, (_, i) => `hot${i}`);
  for (const key of hot) cache.set(key, 1, 60_000);
  let misses = 0;
  for (let round = 0; round < 20; round++) {
    for (const key of hot) if (cache.get(key) === undefined) misses++;
    // 300 new entries a round: the hot set falls behind them and is moved back when read.
    for (let i = 0; i < 300; i++) cache.set(`cold${round}-${i}`, 0, 60_000);
  }
  t.equal(misses, 0, 'no hot entry was evicted');
  t.equal(cache.size, 1000);
});

t.test('peek reads without counting as a use; delete drops', async (t) => {
  const cache = new ExpiringCache<number>({ maxEntries: 2 });
  cache.set('a', 1, 60_000);
  cache.set('b', 2, 60_000);
  t.equal(cache.peek('a'), 1);
  cache.set('c', 3, 60_000);
  t.equal(cache.peek('a'), undefined, 'peeked, still the oldest: evicted');
  cache.delete('b');
  t.same([...cache.keys()], ['c']);
});
