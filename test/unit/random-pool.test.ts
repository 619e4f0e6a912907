/** The pooled CSPRNG bytes behind client ids, secrets and envelope IVs (src/crypto/random.ts). */
import t from 'tap';
import { pooledRandomBytes, randomWso2Token } from '../../src/crypto/random.js';

t.test('pooledRandomBytes: fresh bytes of the asked size, never the same twice', async (t) => {
  const seen = new Set<string>();
  // Several refills of the 4 KiB pool, with sizes that do not divide it.
  for (let i = 0; i < 2_000; i++) {
    const bytes = pooledRandomBytes(12);
    t.equal(bytes.length, 12);
    seen.add(bytes.toString('hex'));
  }
  t.equal(seen.size, 2_000, 'no IV repeats');
  t.throws(() => pooledRandomBytes(257), RangeError);
});

t.test('pooledRandomBytes: a returned buffer is a copy, unaffected by later draws', async (t) => {
  const first = pooledRandomBytes(32);
  const copy = Buffer.from(first);
  for (let i = 0; i < 1_000; i++) pooledRandomBytes(32);
  t.same(first, copy);
});

t.test('tokens and IVs interleaved stay well formed and distinct', async (t) => {
  const tokens = new Set<string>();
  for (let i = 0; i < 1_000; i++) {
    tokens.add(randomWso2Token());
    pooledRandomBytes(12);
  }
  t.equal(tokens.size, 1_000);
  for (const token of tokens) t.match(token, /^[A-Za-z0-9_]{28}$/);
});
