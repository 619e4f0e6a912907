/**
 * The pieces of a secret-key rotation: DCR_SECRET_KEY_PREVIOUS, a SecretBox that opens what
 * previous keys sealed and re-reads its key files when it meets a key it does not hold, and the
 * key files `dcr secrets rotate-key` writes.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { loadConfig } from '../../src/config/config.js';
import { ConfigError } from '../../src/config/config-error.js';
import { loadOrCreateKeyFile, loadPreviousKeys, readKeyFilesSync, rotateKeyFile } from '../../src/crypto/key-file.js';
import { SecretBox } from '../../src/crypto/secret-box.js';

t.test('DCR_SECRET_KEY_PREVIOUS', async (t) => {
  const a = randomBytes(32);
  const b = randomBytes(32);
  t.same(loadConfig({}).previousSecretKeys, [], 'unset: none');
  t.same(loadConfig({ DCR_SECRET_KEY_PREVIOUS: '' }).previousSecretKeys, [], 'empty: none');
  const parsed = loadConfig({ DCR_SECRET_KEY_PREVIOUS: ` ${a.toString('base64')} ,${b.toString('hex')},` }).previousSecretKeys;
  t.same(parsed.map((key) => key.toString('hex')), [a.toString('hex'), b.toString('hex')], 'comma separated, base64 or hex, blanks ignored');
  t.throws(() => loadConfig({ DCR_SECRET_KEY_PREVIOUS: `${a.toString('base64')},nope` }), ConfigError);
  t.throws(() => loadConfig({ DCR_SECRET_KEY_PREVIOUS: 'nope' }), /DCR_SECRET_KEY_PREVIOUS holds an invalid key \(number 1\)/);
});

t.test('SecretBox keyring', async (t) => {
  const oldKey = randomBytes(32);
  const newKey = randomBytes(32);
  const sealedOld = new SecretBox(oldKey).seal('s3cret', 'client-1');
  const box = new SecretBox(newKey, [oldKey]);
  t.equal(box.open(sealedOld, 'client-1'), 's3cret', 'a previous key opens what it sealed');
  t.equal(SecretBox.kidOf(box.seal('x', 'y')), box.currentKid, 'new envelopes use the current key');
  t.same(box.kids.sort(), [SecretBox.keyId(newKey), SecretBox.keyId(oldKey)].sort());

  // A box that only knows the old key re-reads its files when it meets the new key.
  let reloads = 0;
  const reloading = new SecretBox(oldKey, [], () => {
    reloads += 1;
    return { current: newKey, previous: [oldKey] };
  });
  const sealedNew = new SecretBox(newKey).seal('fresh', 'client-2');
  t.equal(reloading.open(sealedNew, 'client-2'), 'fresh', 'opened after a reload');
  t.equal(reloads, 1);
  t.equal(reloading.currentKid, SecretBox.keyId(newKey), 'and it now seals with the new key');
  t.equal(reloading.open(sealedOld, 'client-1'), 's3cret', 'the old key is kept');
  const stranger = new SecretBox(randomBytes(32)).seal('x', 'z');
  t.throws(() => reloading.open(stranger, 'z'), /No key with id/, 'an unknown key still fails');
  t.equal(reloads, 1, 'reloads are rate-limited (at most one a second)');
});

t.test('key files: rotate, previous, sync read', async (t) => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'dcr-keys-'));
  t.teardown(() => fs.rm(dir, { recursive: true, force: true }));
  const keyFile = path.join(dir, 'secret.key');
  const first = (await loadOrCreateKeyFile(keyFile)).key;
  t.same(await loadPreviousKeys(keyFile), [], 'no .previous file: no previous keys');
  const second = await rotateKeyFile(keyFile);
  t.same(second.previous.map(String), [String(first)], 'the replaced key is kept');
  const third = await rotateKeyFile(keyFile);
  t.same(third.previous.map((k) => k.toString('hex')), [second.current, first].map((k) => k.toString('hex')), 'newest replaced first, none lost');
  t.same((await loadPreviousKeys(keyFile)).map((k) => k.toString('hex')), third.previous.map((k) => k.toString('hex')));
  const sync = readKeyFilesSync(keyFile);
  t.equal(sync?.current.toString('hex'), third.current.toString('hex'));
  t.equal((await fs.stat(`${keyFile}.previous`)).mode & 0o777, 0o600);
  await fs.writeFile(`${keyFile}.previous`, 'garbage\n');
  await t.rejects(loadPreviousKeys(keyFile), /line 1 is not a 32-byte key/);
  t.equal(readKeyFilesSync(keyFile), undefined, 'a broken file: the box keeps what it has');
});
