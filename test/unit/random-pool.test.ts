/** The pooled CSPRNG bytes behind client ids, secrets and envelope IVs (src/crypto/random.ts), and the time-ordered client id. */
import t from 'tap';
import { pooledRandomBytes, randomWso2Token, timeOrderedClientId } from '../../src/crypto/random.js';

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

t.test('timeOrderedClientId: WSO2 look, sorts by its second in byte order, random after the prefix', async (t) => {
  const byteOrder = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));
  const at = (seconds: number) => timeOrderedClientId(seconds * 1000);
  // Seconds whose base-63 digits cross every alphabet boundary (9→A, Z→_, _→a) and carry.
  const seconds = [0, 1, 9, 10, 35, 36, 37, 62, 63, 64, 3968, 3969, 1_795_800_000, 1_795_800_001, 1_795_800_062, 1_795_800_063, 4_000_000_000];
  const ids = seconds.map(at);
  for (const id of ids) t.match(id, /^[A-Za-z0-9_]{28}$/);
  t.same([...ids].sort(byteOrder), ids, 'ids of later seconds sort after those of earlier ones');
  t.equal(at(0).slice(0, 6), '000000');
  t.equal(at(62).slice(0, 6), '00000z', 'the largest digit is the last character in byte order');

  const sameSecond = Array.from({ length: 2_000 }, () => timeOrderedClientId(1_795_800_000_500));
  t.equal(new Set(sameSecond.map((id) => id.slice(0, 6))).size, 1, 'one prefix per second');
  t.equal(new Set(sameSecond).size, 2_000, 'the 22 random characters tell them apart');
  t.equal(new Set(sameSecond.map((id) => id[6])).size > 50, true, 'the first random character takes (nearly) every value');
});
