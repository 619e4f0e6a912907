import pg from 'pg';
import { Batcher, lookupBatcher, type BatcherOptions, type ItemFailure } from './batcher.js';
import { DatabaseUnavailable, mapConnectError, mapQueryError } from './errors.js';
import { scopedQuery, scopeSetting, type TenantScope } from './tenant-scope.js';

export interface DatabaseOptions {
  connectionString: string;
  poolSize: number;
  /** Bound on connecting and on one statement, so that an outage answers 503 instead of hanging. */
  timeoutMs: number;
  applicationName?: string;
  /**
   * The role every statement runs as (SET ROLE at connection): the server's `dcr_app`, which
   * neither owns the tables nor bypasses row security (migration 012). Unset: the login role
   * itself, for migrations and the cross-tenant upkeep.
   */
  role?: string;
}

export type Queryable = Pick<pg.PoolClient, 'query'>;

/** The role the server's requests run as (migration 012): no owner of anything, held to row security. */
export const APP_ROLE = 'dcr_app';

/** A prepared statement: its name must be unique to its SQL text (see Database.query). */
export interface NamedStatement {
  name: string;
  text: string;
}

/**
 * The one way the repositories reach PostgreSQL: a pg pool whose failures come out as domain
 * errors (src/db/errors.ts). Repositories hold SQL; this holds connection bookkeeping.
 */
export class Database {
  readonly pool: pg.Pool;
  /**
   * What every coalesced statement (coalesce, lookup) shares: a call gets its answer, or a 503,
   * within the bound of one statement (query_timeout below), however long the queue in front of it.
   */
  private readonly deadline: Pick<BatcherOptions, 'deadlineMs' | 'onDeadline'>;

  constructor(options: DatabaseOptions) {
    this.deadline = {
      deadlineMs: options.timeoutMs + 1_000,
      onDeadline: () => new DatabaseUnavailable(new Error(`no answer from the database within ${options.timeoutMs + 1_000} ms`)),
    };
    this.pool = new pg.Pool({
      connectionString: options.connectionString,
      max: options.poolSize,
      connectionTimeoutMillis: options.timeoutMs,
      // Connections once opened stay open (0: no idle timeout), as in a fixed-size pool. Closing
      // them after 30 s of quiet made the first burst after every quiet spell (a CI pipeline
      // registering its apps minutes apart) open them again: a SCRAM exchange and a new backend
      // with cold catalogue and plan caches each, so that burst ran slower than the next
      // (docs/performance.md, Sixth pass). A connection the server drops (restart,
      // idle_session_timeout) errors while idle and leaves the pool.
      idleTimeoutMillis: 0,
      // Server-side bound (57014 → 503) and client-side bound for a dead peer that never answers.
      statement_timeout: options.timeoutMs,
      query_timeout: options.timeoutMs + 1_000,
      application_name: options.applicationName ?? 'wso2-dcr-server',
      keepAlive: true,
      // A startup parameter, so the role holds from the connection's first statement on.
      ...(options.role ? { options: `-c role=${options.role}` } : {}),
    });
    // An idle client whose server went away emits 'error' on the pool; without a listener that
    // would crash the process. The next checkout simply gets a fresh connection.
    this.pool.on('error', () => {});
  }

  /**
   * `text` may be a named statement (`{ name, text }`, fixed SQL of a hot path): PostgreSQL then
   * parses and plans it once per connection instead of on every call.
   */
  async query<R extends pg.QueryResultRow = pg.QueryResultRow>(
    text: string | NamedStatement,
    values: readonly unknown[] = [],
  ): Promise<pg.QueryResult<R>> {
    return this.onClient((client) =>
      typeof text === 'string' ? client.query<R>(text, values as unknown[]) : client.query<R>({ name: text.name, text: text.text, values: values as unknown[] }),
    );
  }

  /**
   * One statement over tenant-owned tables, seeing and writing only the rows of the tenants in
   * `scope` (src/db/tenant-scope.ts): still one round trip.
   */
  async queryIn<R extends pg.QueryResultRow = pg.QueryResultRow>(
    scope: TenantScope,
    text: string | NamedStatement,
    values: readonly unknown[] = [],
  ): Promise<pg.QueryResult<R>> {
    return this.onClient((client) => scopedQuery<R>(client, scope, text, values));
  }

  /** One statement on a pooled client, its failure mapped; a client whose connection failed is destroyed rather than returned. */
  private async onClient<T>(statement: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await this.connect();
    let broken: Error | undefined;
    try {
      return await statement(client);
    } catch (err) {
      const mapped = mapQueryError(err);
      if (mapped !== err) broken = err as Error;
      throw mapped;
    } finally {
      client.release(broken);
    }
  }

  /** Runs `work` in one transaction; any throw rolls it back, so no partial rows survive. */
  async transaction<T>(work: (tx: Queryable) => Promise<T>): Promise<T> {
    return this.run(undefined, work);
  }

  /** A transaction whose every statement sees only the rows of the tenants in `scope`. */
  async transactionIn<T>(scope: TenantScope, work: (tx: Queryable) => Promise<T>): Promise<T> {
    // Checked before a connection is taken: a bad scope is a bug, not an outage.
    scopeSetting(scope);
    return this.run(scope, work);
  }

  private async run<T>(scope: TenantScope | undefined, work: (tx: Queryable) => Promise<T>): Promise<T> {
    const client = await this.connect();
    let broken: Error | undefined;
    try {
      // The scope rides on the BEGIN: set in the same round trip, kept until COMMIT or ROLLBACK.
      await (scope === undefined ? client.query('BEGIN') : scopedQuery(client, scope, 'BEGIN', []));
      const result = await work(client);
      await client.query('COMMIT');
      return result;
    } catch (err) {
      const mapped = mapQueryError(err);
      if (mapped instanceof DatabaseUnavailable) {
        // The connection is dead or not answering: a ROLLBACK would wait out its own timeout
        // (doubling the wait of a request during an outage). Destroying the connection instead
        // makes PostgreSQL roll the transaction back.
        broken = err as Error;
      } else {
        await client.query('ROLLBACK').catch((rollbackErr: Error) => {
          broken = rollbackErr;
        });
        if (mapped !== err) broken ??= err as Error;
      }
      throw mapped;
    } finally {
      client.release(broken);
    }
  }

  /**
   * A client checked out of the pool. pg-pool removes its own 'error' listener while a client is
   * checked out, and a connection that dies between two statements (or after a query timeout)
   * then emits 'error' with no listener: an uncaught exception that took the whole process down
   * during an outage. The listener added here records the failure instead, and `release` passes
   * it on, so that the dead client is destroyed rather than returned to the pool.
   */
  async connect(): Promise<pg.PoolClient> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (err) {
      throw mapConnectError(err);
    }
    let failed: Error | undefined;
    const onError = (err: Error) => {
      failed ??= err;
    };
    client.on('error', onError);
    const release = client.release.bind(client);
    client.release = (err?: Error | boolean) => {
      client.removeListener('error', onError);
      release(err || failed);
    };
    return client;
  }

  /**
   * The hot paths' write coalescing (src/db/batcher.ts): the calls of a burst go to PostgreSQL as
   * one set-based statement, `run(items)`, which answers each item in order. A burst of one is a
   * batch of one: the same statement, so there is no single-row twin to keep in step.
   */
  coalesce<I, O>(run: (items: I[]) => Promise<(O | ItemFailure)[]>, options: Omit<BatcherOptions, 'deadlineMs' | 'onDeadline'> = {}): (item: I) => Promise<O> {
    const batcher = new Batcher(run, { ...options, ...this.deadline });
    return (item) => batcher.load(item);
  }

  /**
   * Lookups by key within a tenant, coalesced: one run of `statement` for the distinct (tenant,
   * key) pairs of a burst, whatever their tenants, in the scope of those tenants. Its parameters
   * are two parallel arrays, the keys ($1) and their tenants ($2), and its rows carry tenant_id;
   * each call gets the row of its own tenant whose `keyOf` is its key, or undefined.
   */
  lookup<R extends pg.QueryResultRow & { tenant_id: number }>(
    statement: NamedStatement,
    keyOf: (row: R) => string,
  ): (tenant: number, key: string) => Promise<R | undefined> {
    const batcher = lookupBatcher(async (pairs: string[]) => {
      const tenants = pairs.map((pair) => Number(pair.slice(0, pair.indexOf(':'))));
      const keys = pairs.map((pair) => pair.slice(pair.indexOf(':') + 1));
      const { rows } = await this.queryIn<R>(tenants, statement, [keys, tenants]);
      return new Map(rows.map((row) => [`${row.tenant_id}:${keyOf(row)}`, row]));
    }, this.deadline);
    return (tenant, key) => batcher.load(`${tenant}:${key}`);
  }

  async ping(): Promise<void> {
    await this.query('SELECT 1');
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
