/**
 * Secrets at rest (SecretBox), password hashing (PasswordHasher), the WSO2-looking random ids and
 * the Basic credential parser. No database.
 */
import { randomBytes } from 'node:crypto';
import t from 'tap';
import { DEFAULT_SCRYPT_COST, PasswordHasher } from '../../src/crypto/passwords.js';
import { randomPassword, randomWso2Token } from '../../src/crypto/random.js';
import { SecretBox } from '../../src/crypto/secret-box.js';
import { parseBasicAuthorization } from '../../src/services/user-authentication.js';

/** Cheap cost for the behaviour tests; one test below runs the production default. */
const FAST = { ln: 10, r: 8, p: 1 };

t.test('SecretBox', async (t) => {
  const key = randomBytes(32);
  const box = new SecretBox(key);
  const secret = 'aSF_ljQZ1e7qxiJ9YraG_NGJ9Iwa';

  t.test('round trip', async (t) => {
    for (const plaintext of [secret, '', 'ünïcødé ✓', 'x'.repeat(10_000)]) {
      const envelope = box.seal(plaintext, 'client-1');
      t.equal(box.open(envelope, 'client-1'), plaintext, `${plaintext.length} chars`);
    }
  });

  t.test('envelope shape: v1.<kid>.<iv>.<body>, no plaintext inside', async (t) => {
    const envelope = box.seal(secret, 'client-1');
    const parts = envelope.split('.');
    t.equal(parts.length, 4);
    t.equal(parts[0], 'v1');
    t.equal(parts[1], box.currentKid);
    t.equal(parts[1], SecretBox.keyId(key));
    t.match(envelope, /^v1\.[A-Za-z0-9_-]{8}\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]+$/);
    t.notOk(envelope.includes(secret), 'plaintext not in the envelope');
    t.notOk(envelope.includes(Buffer.from(secret).toString('base64url')), 'nor its base64url');
    t.notOk(envelope.includes(Buffer.from(secret).toString('hex')), 'nor its hex');
    t.notOk(envelope.includes(key.toString('base64url')), 'the key is not in it either');
  });

  t.test('a fresh IV each time: the same plaintext seals differently', async (t) => {
    const a = box.seal(secret, 'client-1');
    const b = box.seal(secret, 'client-1');
    t.not(a, b);
    t.not(a.split('.')[2], b.split('.')[2]);
  });

  t.test('wrong aad fails', async (t) => {
    const envelope = box.seal(secret, 'client-1');
    t.throws(() => box.open(envelope, 'client-2'));
    t.throws(() => box.open(envelope, ''));
  });

  t.test('tampered envelopes fail', async (t) => {
    const envelope = box.seal(secret, 'client-1');
    const [version, kid, iv, body] = envelope.split('.') as [string, string, string, string];
    const bytes = Buffer.from(body, 'base64url');
    const flip = (buf: Buffer, i: number) => {
      const copy = Buffer.from(buf);
      copy[i] = copy[i]! ^ 0x01;
      return copy.toString('base64url');
    };
    const ivBytes = Buffer.from(iv, 'base64url');
    const tampered: [string, string][] = [
      ['first ciphertext byte flipped', `${version}.${kid}.${iv}.${flip(bytes, 0)}`],
      ['tag byte flipped', `${version}.${kid}.${iv}.${flip(bytes, bytes.length - 1)}`],
      ['iv byte flipped', `${version}.${kid}.${flip(ivBytes, 0)}.${body}`],
      ['ciphertext truncated', `${version}.${kid}.${iv}.${bytes.subarray(1).toString('base64url')}`],
    ];
    for (const [label, bad] of tampered) {
      t.throws(() => box.open(bad, 'client-1'), label);
    }
  });

  t.test('malformed envelopes fail with a clear error', async (t) => {
    const envelope = box.seal(secret, 'client-1');
    const [, kid, iv] = envelope.split('.');
    const malformed = ['', 'plaintext', 'v2.a.b.c', `v1.${kid}.${iv}`, `v1.${kid}.${iv}.`, `v1.${kid}.${iv}.AAAA`];
    for (const bad of malformed) {
      t.throws(() => box.open(bad, 'client-1'), /Malformed secret envelope/, JSON.stringify(bad));
    }
  });

  t.test('an envelope from another key fails, naming the key id', async (t) => {
    const other = new SecretBox(randomBytes(32));
    const envelope = other.seal(secret, 'client-1');
    t.throws(() => box.open(envelope, 'client-1'), {
      message: `No key with id ${other.currentKid} in the keyring: was DCR_SECRET_KEY changed?`,
    });
  });

  t.test('a keyring with the previous key opens old envelopes and seals with the new one', async (t) => {
    const oldKey = randomBytes(32);
    const before = new SecretBox(oldKey).seal(secret, 'client-1');
    const rotated = new SecretBox(randomBytes(32), [oldKey]);
    t.equal(rotated.open(before, 'client-1'), secret);
    const after = rotated.seal(secret, 'client-1');
    t.equal(after.split('.')[1], rotated.currentKid);
    t.not(rotated.currentKid, SecretBox.keyId(oldKey));
    t.throws(() => new SecretBox(oldKey).open(after, 'client-1'), /No key with id/, 'old box cannot open new envelopes');
  });

  t.test('key ids: stable, distinct, not the key', async (t) => {
    const other = randomBytes(32);
    t.equal(SecretBox.keyId(key), SecretBox.keyId(Buffer.from(key)));
    t.not(SecretBox.keyId(key), SecretBox.keyId(other));
    t.equal(SecretBox.keyId(key).length, 8);
  });

  t.test('only 32-byte keys', async (t) => {
    for (const length of [0, 16, 31, 33, 64]) {
      t.throws(() => new SecretBox(Buffer.alloc(length)), /32-byte key/, `${length} bytes`);
    }
  });
});

t.test('PasswordHasher', async (t) => {
  const hasher = new PasswordHasher(FAST);

  t.test('hash and verify', async (t) => {
    const stored = await hasher.hash('correct horse');
    t.match(stored, /^\$scrypt\$ln=10,r=8,p=1\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/);
    t.notOk(stored.includes('correct horse'));
    t.equal(await hasher.verify('correct horse', stored), true);
  });

  t.test('wrong passwords are false', async (t) => {
    const stored = await hasher.hash('correct horse');
    for (const wrong of ['correct hors', 'Correct horse', 'correct horse ', '']) {
      t.equal(await hasher.verify(wrong, stored), false, JSON.stringify(wrong));
    }
  });

  t.test('unicode passwords are normalised (NFC)', async (t) => {
    const stored = await hasher.hash('caf\u00e9');
    t.equal(await hasher.verify('cafe\u0301', stored), true);
  });

  t.test('two hashes of one password differ (salted), both verify', async (t) => {
    const [a, b] = await Promise.all([hasher.hash('same'), hasher.hash('same')]);
    t.not(a, b);
    t.not(a.split('$')[3], b.split('$')[3], 'different salts');
    t.equal(await hasher.verify('same', a), true);
    t.equal(await hasher.verify('same', b), true);
  });

  t.test('malformed stored hashes are false, not a throw', async (t) => {
    const good = await hasher.hash('pw');
    const malformed = [
      '',
      'pw',
      '$2b$10$abcdefghijklmnopqrstuv',
      '$scrypt$ln=10,r=8,p=1$',
      '$scrypt$ln=10,r=8$c2FsdA$a2V5',
      '$scrypt$ln=x,r=8,p=1$c2FsdA$a2V5',
      good.replace('$scrypt$', '$argon2$'),
      `${good}$extra`,
      `${good}!`,
      // Parses, but its cost is beyond what scrypt allows: must still be false.
      '$scrypt$ln=99,r=99,p=99$c2FsdHNhbHRzYWx0c2FsdA$a2V5',
      '$scrypt$ln=0,r=8,p=1$c2FsdHNhbHRzYWx0c2FsdA$a2V5',
    ];
    for (const stored of malformed) {
      t.equal(await hasher.verify('pw', stored), false, JSON.stringify(stored));
    }
  });

  t.test('a hash carries its own cost: verifiable by a hasher with another default', async (t) => {
    const stored = await new PasswordHasher({ ln: 11, r: 8, p: 1 }).hash('pw');
    t.match(stored, /^\$scrypt\$ln=11,r=8,p=1\$/);
    t.equal(await hasher.verify('pw', stored), true);
  });

  t.test('burn resolves without a result', async (t) => {
    t.equal(await hasher.burn('anything'), undefined);
  });

  t.test('the production default: ln=15, r=8, p=1', async (t) => {
    t.same(DEFAULT_SCRYPT_COST, { ln: 15, r: 8, p: 1 });
    const production = new PasswordHasher();
    const started = performance.now();
    const stored = await production.hash('admin-Pa55word');
    const elapsed = performance.now() - started;
    t.match(stored, /^\$scrypt\$ln=15,r=8,p=1\$[A-Za-z0-9_-]+\$[A-Za-z0-9_-]+$/);
    t.equal(await production.verify('admin-Pa55word', stored), true);
    t.equal(await production.verify('admin-Pa55word!', stored), false);
    t.comment(`one default-cost hash took ${elapsed.toFixed(0)} ms`);
  });
});

t.test('randomWso2Token', async (t) => {
  t.test('28 characters of [A-Za-z0-9_] by default', async (t) => {
    const tokens = Array.from({ length: 1000 }, () => randomWso2Token());
    for (const token of tokens) {
      if (!/^[A-Za-z0-9_]{28}$/.test(token)) t.fail(`bad token ${token}`);
    }
    t.equal(new Set(tokens).size, 1000, '1000 tokens are distinct');
    const alphabet = new Set(tokens.join(''));
    t.ok(alphabet.size > 55, `the alphabet is used widely (${alphabet.size} of 63 seen)`);
  });

  t.test('other lengths', async (t) => {
    for (const length of [1, 16, 24, 64, 200]) {
      t.match(randomWso2Token(length), new RegExp(`^[A-Za-z0-9_]{${length}}$`), `${length}`);
    }
  });

  t.test('randomPassword: 24 characters', async (t) => {
    t.match(randomPassword(), /^[A-Za-z0-9_]{24}$/);
    t.not(randomPassword(), randomPassword());
  });
});

t.test('parseBasicAuthorization', async (t) => {
  const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64');
  const cases: [string, string | undefined, { username: string; password: string } | undefined][] = [
    ['valid', `Basic ${b64('admin:admin')}`, { username: 'admin', password: 'admin' }],
    ['lowercase scheme', `basic ${b64('admin:admin')}`, { username: 'admin', password: 'admin' }],
    ['uppercase scheme', `BASIC ${b64('admin:admin')}`, { username: 'admin', password: 'admin' }],
    ['several spaces after the scheme', `Basic   ${b64('admin:admin')}`, { username: 'admin', password: 'admin' }],
    ['password containing colons', `Basic ${b64('alice:pa:ss:word')}`, { username: 'alice', password: 'pa:ss:word' }],
    ['password of one colon', `Basic ${b64('alice::')}`, { username: 'alice', password: ':' }],
    ['utf-8 credentials', `Basic ${b64('jürgen:pässwörd')}`, { username: 'jürgen', password: 'pässwörd' }],
    ['password with spaces', `Basic ${b64('bob: s p ')}`, { username: 'bob', password: ' s p ' }],
    ['empty user', `Basic ${b64(':password')}`, undefined],
    ['empty password', `Basic ${b64('admin:')}`, undefined],
    ['empty user and password', `Basic ${b64(':')}`, undefined],
    ['no colon', `Basic ${b64('adminadmin')}`, undefined],
    ['not base64', 'Basic !!!not-base64!!!', undefined],
    ['not base64 (space inside)', `Basic ${b64('admin:admin').slice(0, 4)} ${b64('admin:admin').slice(4)}`, undefined],
    ['scheme only', 'Basic', undefined],
    ['scheme and space only', 'Basic ', undefined],
    ['no space after the scheme', `Basic${b64('admin:admin')}`, undefined],
    ['Bearer', 'Bearer abc.def.ghi', undefined],
    ['Bearer with a base64 credential', `Bearer ${b64('admin:admin')}`, undefined],
    ['Digest', 'Digest username="admin"', undefined],
    ['empty header', '', undefined],
    ['no header', undefined, undefined],
  ];
  for (const [label, header, expected] of cases) {
    t.same(parseBasicAuthorization(header), expected, label);
  }
});
