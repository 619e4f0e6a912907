import fs from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import { readPassword, serverUrlOf } from './credentials.js';
import { DataDirInUseError, isRunning } from './data-dir-lock.js';

/**
 * The connection string of the cluster a running server (`holder`, see dataDirHolder) started in
 * `dataDir`, for tools that must not start a second postgres on the same files: the port is the
 * 4th line of pg/postmaster.pid, the password is pg-password. Waits up to `timeoutMs` for a server
 * that is still starting (postgres not ready yet, database not created yet).
 */
export async function attachRunningCluster(
  dataDir: string,
  holder: number,
  options: { database?: string; timeoutMs?: number } = {},
): Promise<string> {
  const { database = 'dcr', timeoutMs = 20_000 } = options;
  const deadline = Date.now() + timeoutMs;
  let last = 'its postgres has not started';
  for (;;) {
    const lines = (await fs.readFile(path.join(dataDir, 'pg', 'postmaster.pid'), 'utf8').catch(() => '')).split('\n');
    const pid = Number.parseInt(lines[0] ?? '', 10);
    const port = Number.parseInt(lines[3] ?? '', 10);
    const password = await readPassword(dataDir);
    if (Number.isInteger(pid) && isRunning(pid) && Number.isInteger(port) && port > 0 && password !== '' && lines[7]?.trim() === 'ready') {
      const connectionString = `${serverUrlOf(password, port)}/${database}`;
      const client = new pg.Client({ connectionString, connectionTimeoutMillis: 2_000 });
      try {
        await client.connect();
        await client.query('SELECT 1');
        return connectionString;
      } catch (err) {
        last = `connecting to its postgres failed: ${(err as Error).message}`;
      } finally {
        await client.end().catch(() => {});
      }
    }
    if (!isRunning(holder)) last = `the server (PID ${holder}) exited`;
    if (Date.now() > deadline || !isRunning(holder)) {
      throw new DataDirInUseError(`A server (PID ${holder}) holds ${dataDir}, but its database cannot be reached: ${last}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
