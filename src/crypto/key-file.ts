import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import { parseSecretKey } from '../config.js';

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
