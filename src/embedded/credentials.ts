/**
 * The embedded cluster's superuser password, in DCR_DATA_DIR/pg-password (owner-only): read by the
 * server that starts the cluster and by the tools that attach to it (src/embedded/attach.ts).
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';

const passwordFileOf = (dataDir: string) => path.join(dataDir, 'pg-password');

const newPassword = () => randomBytes(24).toString('base64url');

/** A new cluster gets a new superuser password (a leftover of an interrupted initdb is then dead). */
export async function writeNewPassword(dataDir: string): Promise<string> {
  const file = passwordFileOf(dataDir);
  const password = newPassword();
  await fs.writeFile(file, password, { mode: 0o600 });
  await fs.chmod(file, 0o600);
  return password;
}

export async function readOrCreatePassword(dataDir: string): Promise<string> {
  const file = passwordFileOf(dataDir);
  try {
    const handle = await fs.open(file, 'wx', 0o600);
    const password = newPassword();
    await handle.writeFile(password);
    await handle.close();
    return password;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    return (await fs.readFile(file, 'utf8')).trim();
  }
}

/** The password of the cluster a running server started; '' while it has none yet. */
export async function readPassword(dataDir: string): Promise<string> {
  return (await fs.readFile(passwordFileOf(dataDir), 'utf8').catch(() => '')).trim();
}

/** The cluster over TCP on loopback as its superuser, without a database (`${url}/name` is a connection string). */
export const serverUrlOf = (password: string, port: number): string =>
  `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}`;
