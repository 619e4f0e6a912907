import path from 'node:path';
import type { Config } from '../config/config.js';
import { ConfigError } from '../config/config-error.js';
import { loadOrCreateKeyFile, loadPreviousKeys, readKeyFilesSync } from '../crypto/key-file.js';
import { SecretBox, type Keyring } from '../crypto/secret-box.js';
import { Database } from '../db/database.js';
import { attachRunningCluster } from '../embedded/attach.js';
import { startEmbeddedPostgres, type EmbeddedPostgresHandle } from '../embedded/cluster.js';
import { DataDirInUseError, dataDirHolder } from '../embedded/data-dir-lock.js';

/**
 * What a process opens before it can build its services: the database and the secret key. The
 * server and the tools (the `dcr` CLI, `npm run migrate`, the seeder) make the same choices here,
 * so they always reach the same database with the same key:
 * - DATABASE_URL when set; otherwise the embedded cluster in DCR_DATA_DIR. A tool attaches to the
 *   cluster of a server running on that folder (never a second postgres on the same files), or
 *   starts the cluster itself and stops it on close;
 * - DCR_SECRET_KEY (with DCR_SECRET_KEY_PREVIOUS) when set; otherwise DCR_DATA_DIR/secret.key
 *   (with secret.key.previous), created at first use.
 */

/** How the database was reached: DATABASE_URL, a running server's cluster, or the embedded cluster started here. */
export type DatabaseMode = 'external' | 'attached' | 'embedded';

export interface OpenedDatabase {
  db: Database;
  /** How `db` connects: for a second pool over the same database (as another role, say). */
  connectionString: string;
  mode: DatabaseMode;
  /** The embedded cluster this process started (and stops on close). */
  embedded: EmbeddedPostgresHandle | undefined;
  close(): Promise<void>;
}

export interface OpenDatabaseOptions {
  /** A tool uses the cluster of a server running on the data folder; the server itself never does. */
  attach: boolean;
  poolSize: number;
  applicationName?: string;
  log?: (message: string) => void;
}

type DatabaseConfig = Pick<Config, 'databaseUrl' | 'dataDir' | 'dbTimeoutMs'>;

export async function openDatabase(config: DatabaseConfig, options: OpenDatabaseOptions): Promise<OpenedDatabase> {
  const log = options.log ?? (() => {});
  let connectionString = config.databaseUrl;
  let mode: DatabaseMode = 'external';
  let embedded: EmbeddedPostgresHandle | undefined;
  if (connectionString === undefined) {
    let holder = options.attach ? await dataDirHolder(config.dataDir) : undefined;
    if (holder === undefined) {
      try {
        embedded = await startEmbeddedPostgres({ dataDir: config.dataDir, log });
        connectionString = embedded.connectionString;
        mode = 'embedded';
      } catch (err) {
        // A server took the folder in the meantime: a tool uses its cluster.
        if (!options.attach || !(err instanceof DataDirInUseError)) throw err;
        holder = await dataDirHolder(config.dataDir);
        if (holder === undefined) throw err;
      }
    }
    if (holder !== undefined && connectionString === undefined) {
      connectionString = await attachRunningCluster(config.dataDir, holder);
      mode = 'attached';
      log(`using the database of the server running on ${config.dataDir} (PID ${holder})`);
    }
  }
  const db = new Database({
    connectionString: connectionString!,
    poolSize: options.poolSize,
    timeoutMs: config.dbTimeoutMs,
    ...(options.applicationName ? { applicationName: options.applicationName } : {}),
  });
  let closed = false;
  return {
    db,
    connectionString: connectionString!,
    mode,
    embedded,
    async close() {
      if (closed) return;
      closed = true;
      await db.close().catch(() => {});
      await embedded?.stop();
    },
  };
}

export interface SecretKeys {
  current: Buffer;
  previous: Buffer[];
  /** DCR_DATA_DIR/secret.key when the key comes from that file (the embedded default). */
  keyFile: string | undefined;
  /** Re-reads the key files (a rotation done while this process runs); only with keyFile. */
  reload: (() => Keyring | undefined) | undefined;
}

/**
 * The secret key, or undefined when DATABASE_URL is set without DCR_SECRET_KEY (the caller says
 * why that is an error for it). `onCreated` hears of a key file generated now.
 */
export async function loadSecretKeys(
  config: Pick<Config, 'databaseUrl' | 'dataDir' | 'secretKey' | 'previousSecretKeys'>,
  onCreated: (keyFile: string) => void = () => {},
): Promise<SecretKeys | undefined> {
  if (config.secretKey) return { current: config.secretKey, previous: config.previousSecretKeys, keyFile: undefined, reload: undefined };
  if (config.databaseUrl !== undefined) return undefined;
  const keyFile = path.join(config.dataDir, 'secret.key');
  const loaded = await loadOrCreateKeyFile(keyFile);
  if (loaded.created) onCreated(keyFile);
  return {
    current: loaded.key,
    // The keys `dcr secrets rotate-key` replaced, then DCR_SECRET_KEY_PREVIOUS.
    previous: [...config.previousSecretKeys, ...(await loadPreviousKeys(keyFile))],
    keyFile,
    reload: () => {
      const ring = readKeyFilesSync(keyFile);
      return ring && { current: ring.current, previous: [...ring.previous, ...config.previousSecretKeys] };
    },
  };
}

export interface ToolResources extends OpenedDatabase {
  /** The server's secret key ring, when the tool asked for it (needSecretKey). */
  secrets: SecretBox | undefined;
  /** As SecretKeys.keyFile. */
  keyFile: string | undefined;
}

/** The database and, when asked for, the secret key of the server `config` describes, for a short-lived tool. */
export async function openForTool(
  config: Pick<Config, 'databaseUrl' | 'dataDir' | 'dbTimeoutMs' | 'secretKey' | 'previousSecretKeys'>,
  options: { needSecretKey: boolean; applicationName: string; log?: (message: string) => void },
): Promise<ToolResources> {
  if (options.needSecretKey && config.databaseUrl !== undefined && !config.secretKey) {
    throw new ConfigError('DCR_SECRET_KEY is required with DATABASE_URL: it is the key the server encrypts client secrets with');
  }
  const opened = await openDatabase(config, { attach: true, poolSize: 2, applicationName: options.applicationName, ...(options.log ? { log: options.log } : {}) });
  try {
    const keys = options.needSecretKey ? await loadSecretKeys(config) : undefined;
    return { ...opened, secrets: keys && new SecretBox(keys.current, keys.previous), keyFile: keys?.keyFile };
  } catch (err) {
    await opened.close();
    throw err;
  }
}
