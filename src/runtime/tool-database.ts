import path from 'node:path';
import type { Config } from '../config/config.js';
import { ConfigError } from '../config/config-error.js';
import { loadOrCreateKeyFile, loadPreviousKeys } from '../crypto/key-file.js';
import { Database } from '../db/database.js';
import { attachRunningCluster } from '../embedded/attach.js';
import { startEmbeddedPostgres, type EmbeddedPostgresHandle } from '../embedded/cluster.js';
import { DataDirInUseError, dataDirHolder } from '../embedded/data-dir-lock.js';

/**
 * How a tool (the `dcr` CLI, `npm run migrate`) reached the database:
 * - `external`: DATABASE_URL;
 * - `attached`: the embedded cluster of a server running on DCR_DATA_DIR (never a second postgres
 *   on the same files);
 * - `embedded`: no server runs there, so the tool started the embedded cluster itself and stops it
 *   on close.
 */
export type ToolDatabaseMode = 'external' | 'attached' | 'embedded';

export interface ToolDatabase {
  db: Database;
  mode: ToolDatabaseMode;
  /** The server's secret key: DCR_SECRET_KEY, else DCR_DATA_DIR/secret.key. Set when asked for. */
  secretKey: Buffer | undefined;
  /** The keys it replaced: DCR_SECRET_KEY_PREVIOUS, and DCR_DATA_DIR/secret.key.previous with the file. */
  previousKeys: Buffer[];
  /** DCR_DATA_DIR/secret.key when the secret key comes from that file (the embedded default). */
  keyFile: string | undefined;
  close(): Promise<void>;
}

export interface OpenToolDatabaseOptions {
  /** Whether the tool needs the secret key (required with DATABASE_URL, as for the server). */
  needSecretKey: boolean;
  log?: (message: string) => void;
  applicationName?: string;
}

type DatabaseConfig = Pick<Config, 'databaseUrl' | 'dataDir' | 'secretKey' | 'dbTimeoutMs'> & Partial<Pick<Config, 'previousSecretKeys'>>;

/** Opens the database the server of `config` uses, for a short-lived tool. */
export async function openToolDatabase(config: DatabaseConfig, options: OpenToolDatabaseOptions): Promise<ToolDatabase> {
  const log = options.log ?? (() => {});
  let secretKey = config.secretKey;
  let previousKeys = [...(config.previousSecretKeys ?? [])];
  let keyFile: string | undefined;
  let connectionString = config.databaseUrl;
  let mode: ToolDatabaseMode = 'external';
  let embedded: EmbeddedPostgresHandle | undefined;

  if (connectionString !== undefined) {
    if (options.needSecretKey && !secretKey) {
      throw new ConfigError(
        'DCR_SECRET_KEY is required with DATABASE_URL: it is the key the server encrypts client secrets with',
      );
    }
  } else {
    let holder = await dataDirHolder(config.dataDir);
    if (holder === undefined) {
      try {
        embedded = await startEmbeddedPostgres({ dataDir: config.dataDir, log });
        connectionString = embedded.connectionString;
        mode = 'embedded';
      } catch (err) {
        // A server took the folder in the meantime: use its cluster.
        if (!(err instanceof DataDirInUseError)) throw err;
        holder = await dataDirHolder(config.dataDir);
        if (holder === undefined) throw err;
      }
    }
    if (holder !== undefined && connectionString === undefined) {
      connectionString = await attachRunningCluster(config.dataDir, holder);
      mode = 'attached';
      log(`using the database of the server running on ${config.dataDir} (PID ${holder})`);
    }
    if (options.needSecretKey && !secretKey) {
      try {
        keyFile = path.join(config.dataDir, 'secret.key');
        secretKey = (await loadOrCreateKeyFile(keyFile)).key;
        previousKeys = [...previousKeys, ...(await loadPreviousKeys(keyFile))];
      } catch (err) {
        await embedded?.stop();
        throw err;
      }
    }
  }

  const db = new Database({
    connectionString: connectionString!,
    poolSize: 2,
    timeoutMs: config.dbTimeoutMs,
    applicationName: options.applicationName ?? 'wso2-dcr-tool',
  });
  let closed = false;
  return {
    db,
    mode,
    secretKey,
    previousKeys,
    keyFile,
    async close() {
      if (closed) return;
      closed = true;
      await db.close().catch(() => {});
      await embedded?.stop();
    },
  };
}
