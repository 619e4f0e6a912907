import pg from 'pg';
import { mapConnectError, mapQueryError } from './errors.js';

export interface DatabaseOptions {
  connectionString: string;
  poolSize: number;
  /** Bound on connecting and on one statement, so that an outage answers 503 instead of hanging. */
  timeoutMs: number;
  applicationName?: string;
}

export type Queryable = Pick<pg.PoolClient, 'query'>;

/**
 * The one way the repositories reach PostgreSQL: a pg pool whose failures come out as domain
 * errors (src/db/errors.ts). Repositories hold SQL; this holds connection bookkeeping.
 */
export class Database {
  readonly pool: pg.Pool;

  constructor(options: DatabaseOptions) {
    this.pool = new pg.Pool({
      connectionString: options.connectionString,
      max: options.poolSize,
      connectionTimeoutMillis: options.timeoutMs,
      idleTimeoutMillis: 30_000,
      // Server-side bound (57014 → 503) and client-side bound for a dead peer that never answers.
      statement_timeout: options.timeoutMs,
      query_timeout: options.timeoutMs + 1_000,
      application_name: options.applicationName ?? 'wso2-dcr-server',
      keepAlive: true,
    });
    // An idle client whose server went away emits 'error' on the pool; without a listener that
    // would crash the process. The next checkout simply gets a fresh connection.
    this.pool.on('error', () => {});
  }

  async query<R extends pg.QueryResultRow = pg.QueryResultRow>(
    text: string,
    values: readonly unknown[] = [],
  ): Promise<pg.QueryResult<R>> {
    const client = await this.connect();
    let broken: Error | undefined;
    try {
      return await client.query<R>(text, values as unknown[]);
    } catch (err) {
      const mapped = mapQueryError(err);
      if (mapped !== err) broken = err as Error;
      throw mapped;
    } finally {
      // A client whose connection failed is destroyed rather than returned to the pool.
      client.release(broken);
    }
  }

  /** Runs `work` in one transaction; any throw rolls it back, so no partial rows survive. */
  async transaction<T>(work: (tx: Queryable) => Promise<T>): Promise<T> {
    const client = await this.connect();
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      const result = await work(client);
      await client.query('COMMIT');
      return result;
    } catch (err) {
      await client.query('ROLLBACK').catch((rollbackErr: Error) => {
        broken = rollbackErr;
      });
      const mapped = mapQueryError(err);
      if (mapped !== err) broken ??= err as Error;
      throw mapped;
    } finally {
      client.release(broken);
    }
  }

  async connect(): Promise<pg.PoolClient> {
    try {
      return await this.pool.connect();
    } catch (err) {
      throw mapConnectError(err);
    }
  }

  async ping(): Promise<void> {
    await this.query('SELECT 1');
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
