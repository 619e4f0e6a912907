import pg from 'pg';

/**
 * Which tenants' rows a statement may see and write: row-level security (migration 012) compares
 * each row's tenant_id with the setting `dcr.tenants`. One tenant for a request's own statements;
 * several for a coalesced statement that answers calls of several tenants at once (src/db/batcher.ts),
 * whose SQL then names each item's tenant as well (the policies bound the statement to the tenants
 * of its items, the SQL pairs each item with its own).
 */
export type TenantScope = number | readonly number[];

/** The setting's value: a comma-separated list of integer tenant ids. */
export function scopeSetting(scope: TenantScope): string {
  const ids = typeof scope === 'number' ? [scope] : [...new Set(scope)];
  if (ids.length === 0 || !ids.every(Number.isSafeInteger)) throw new TypeError(`not a tenant scope: ${String(scope)}`);
  return ids.join(',');
}

const SET_SCOPE = { name: 'dcr_set_tenants', text: "SELECT WHERE set_config('dcr.tenants', $1, true) IS NULL" };

/** pg.Query's parts this class uses; they are not in @types/pg. */
interface QueryInternals {
  prepare(connection: Connection): void;
  requiresPreparation(): boolean;
}
interface Connection {
  parsedStatements: Record<string, string | undefined>;
  submittedNamedStatements: Record<string, string | undefined>;
  parse(message: { name: string; text: string; types: unknown[] }): void;
  bind(message: { statement: string; values: unknown[] }): void;
  execute(message: { portal: string }): void;
}

const BaseQuery = pg.Query as unknown as new (config: pg.QueryConfig, values: undefined, callback: (err: Error | null, result: unknown) => void) => QueryInternals;

/**
 * A statement run with the tenant scope set, in one round trip. PostgreSQL's extended protocol
 * runs every message up to a Sync in one implicit transaction, so this sends the scope's
 * set_config (is_local: it ends with that transaction) and then the statement, and one Sync for
 * both: the statement sees the scope and nothing after it does. A transaction's BEGIN sent this
 * way keeps the scope for the whole explicit transaction (the implicit one becomes it).
 *
 * Why not BEGIN; set_config; statement; COMMIT: four round trips for what every single-statement
 * repository call does today in one (docs/performance.md, "Tenants"). The set_config answers no
 * row (its WHERE is false) and is not described, so the statement's result is the second of the two.
 */
class ScopedQuery extends BaseQuery {
  constructor(
    private readonly setting: string,
    config: pg.QueryConfig,
    callback: (err: Error | null, result: pg.QueryResult | undefined) => void,
  ) {
    super(config, undefined, (err, results) => {
      callback(err, Array.isArray(results) ? (results[results.length - 1] as pg.QueryResult) : (results as pg.QueryResult));
    });
  }

  // Always the extended protocol: a statement without parameters would otherwise go as a simple query.
  override requiresPreparation(): boolean {
    return true;
  }

  override prepare(connection: Connection): void {
    if (connection.parsedStatements[SET_SCOPE.name] === undefined) {
      connection.parse({ name: SET_SCOPE.name, text: SET_SCOPE.text, types: [] });
      // Recorded here, not on its ParseComplete: pg records that under the statement's own name.
      // The statement cannot fail to parse, and a connection whose exchange fails is discarded.
      connection.parsedStatements[SET_SCOPE.name] = SET_SCOPE.text;
    }
    connection.bind({ statement: SET_SCOPE.name, values: [this.setting] });
    connection.execute({ portal: '' });
    super.prepare(connection);
  }
}

/** Runs `text` on `client` with `scope` set for it alone (see ScopedQuery). */
export function scopedQuery<R extends pg.QueryResultRow>(
  client: pg.ClientBase,
  scope: TenantScope,
  text: string | { name: string; text: string },
  values: readonly unknown[],
): Promise<pg.QueryResult<R>> {
  const setting = scopeSetting(scope);
  const config: pg.QueryConfig = typeof text === 'string' ? { text, values: values as unknown[] } : { name: text.name, text: text.text, values: values as unknown[] };
  return new Promise((resolve, reject) => {
    const query = new ScopedQuery(setting, config, (err, result) => (err ? reject(err) : resolve(result as pg.QueryResult<R>)));
    // A Submittable: pg queues it, applies query_timeout to it and calls back through it.
    void client.query(query as unknown as pg.Submittable);
  });
}
