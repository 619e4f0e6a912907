import fs from 'node:fs/promises';
import path from 'node:path';

/** The longest socket path PostgreSQL accepts everywhere (sun_path: 104 bytes on macOS, 108 on Linux, with its NUL). */
const SOCKET_PATH_MAX = 103;

/**
 * The folder for the cluster's Unix socket: its own data folder (owner-only, so only this user,
 * and root, can reach the socket), when the socket's path fits in sun_path and needs no quoting in
 * unix_socket_directories; else none, and the server connects over TCP on loopback. Over a Unix
 * socket each round trip costs the kernel less than over loopback TCP (docs/performance.md).
 */
export function socketDirFor(pgDir: string, port: number, platform: NodeJS.Platform = process.platform): string | undefined {
  if (platform === 'win32' || !/^[A-Za-z0-9._/-]+$/.test(pgDir)) return undefined;
  return Buffer.byteLength(path.join(pgDir, `.s.PGSQL.${port}`)) <= SOCKET_PATH_MAX ? pgDir : undefined;
}

/**
 * Socket files a postgres killed before it could clean up left in its data folder. Called with no
 * postgres running on the folder (its lock is held, orphans stopped): each start takes a new port,
 * hence a new socket name, so these would otherwise pile up.
 */
export async function removeStaleSockets(pgDir: string): Promise<void> {
  const names = await fs.readdir(pgDir).catch(() => [] as string[]);
  await Promise.all(names.filter((name) => name.startsWith('.s.PGSQL.')).map((name) => fs.rm(path.join(pgDir, name), { force: true })));
}
