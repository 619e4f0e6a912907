import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import { parseSecretKey } from '../config/secret-keys.js';

/**
 * The embedded default's encryption key: generated once into the data folder, owner-only, so that
 * a fresh clone encrypts secrets at rest with no setup. It sits beside the database files, not in
 * them; a production deployment passes DCR_SECRET_KEY from its secret store instead.
 */
export async function loadOrCreateKeyFile(file: string): Promise<{ key: Buffer; created: boolean }> {
  try {
    const handle = await fs.open(file, 'wx', 0o600);
    const key = randomBytes(32);
    await handle.writeFile(`${key.toString('base64')}\n`);
    await handle.sync();
    await handle.close();
    return { key, created: true };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  const key = parseSecretKey(await fs.readFile(file, 'utf8'));
  if (!key) throw new Error(`${file} does not hold a 32-byte key; restore it from a backup or remove it (secrets sealed with it are then lost)`);
  await fs.chmod(file, 0o600);
  return { key, created: false };
}

/** The file beside `secret.key` holding the keys it replaced, one a line (`dcr secrets rotate-key`). */
export const previousKeyFile = (keyFile: string) => `${keyFile}.previous`;

function parseKeyLines(text: string, file: string): Buffer[] {
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean)
    .map((line, index) => {
      const key = parseSecretKey(line);
      if (!key) throw new Error(`${file}: line ${index + 1} is not a 32-byte key; restore the file from a backup`);
      return key;
    });
}

/** The keys in `secret.key.previous` (none when there is no such file). */
export async function loadPreviousKeys(keyFile: string): Promise<Buffer[]> {
  const file = previousKeyFile(keyFile);
  const text = await fs.readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return '';
    throw err;
  });
  return parseKeyLines(text, file);
}

/**
 * The keyring in the key files, read synchronously (SecretBox's reload, while a request waits):
 * undefined when they cannot be read or do not parse, so that the box keeps what it has.
 */
export function readKeyFilesSync(keyFile: string): { current: Buffer; previous: Buffer[] } | undefined {
  try {
    const current = parseSecretKey(readFileSync(keyFile, 'utf8'));
    if (!current) return undefined;
    let previous: Buffer[] = [];
    try {
      previous = parseKeyLines(readFileSync(previousKeyFile(keyFile), 'utf8'), previousKeyFile(keyFile));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') return undefined;
    }
    return { current, previous };
  } catch {
    return undefined;
  }
}

/** Writes `text` to `file` (owner-only) through a temporary file and a rename: never half written. */
async function replaceFile(file: string, text: string): Promise<void> {
  const temporary = `${file}.${process.pid}.tmp`;
  const handle = await fs.open(temporary, 'w', 0o600);
  try {
    await handle.writeFile(text);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await fs.rename(temporary, file);
}

/**
 * Makes a new key current in `keyFile`, keeping the replaced one (first) in `secret.key.previous`,
 * which is written before `keyFile` is: whatever moment this stops at, every key that sealed
 * something is in one of the two files. Returns the new keyring.
 */
export async function rotateKeyFile(keyFile: string): Promise<{ current: Buffer; previous: Buffer[] }> {
  const old = parseSecretKey(await fs.readFile(keyFile, 'utf8'));
  if (!old) throw new Error(`${keyFile} does not hold a 32-byte key; restore it from a backup`);
  const kept = await loadPreviousKeys(keyFile);
  const previous = [old, ...kept.filter((key) => !key.equals(old))];
  await replaceFile(previousKeyFile(keyFile), previous.map((key) => `${key.toString('base64')}\n`).join(''));
  const current = randomBytes(32);
  await replaceFile(keyFile, `${current.toString('base64')}\n`);
  return { current, previous };
}
