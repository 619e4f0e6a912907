import type { Database } from './database.js';

/**
 * Analyses a table once, when this process alone has inserted more rows than the table's
 * statistics say it holds.
 *
 * Why: the hot statements are prepared, and PostgreSQL settles each one on a generic plan after
 * five runs, kept until the table's statistics change. On a young table (a fresh database at its
 * first burst of registrations) that plan was made for a handful of rows, so it reads
 * the whole table, and keeps doing so while the table grows by thousands of rows a second, until
 * autovacuum first analyses it: past its threshold, then up to `autovacuum_naptime` later (10 s on
 * the embedded cluster, 60 s by default): registration ran far slower for those first seconds
 * (docs/performance.md). One ANALYZE as soon as the statistics are known to be stale
 * re-plans those statements for an index; after that, autovacuum's own schedule is enough, since
 * a plan made for a thousand rows stays right for a million. A process started on a table whose
 * statistics are current pays one catalogue read, once. Used for `applications` only: on
 * `access_tokens` a paired benchmark showed no gain (docs/performance.md, issue 18).
 *
 * Infrastructure over a table name from this code (never from input: it is written into the SQL).
 */
export class YoungTableAnalyzer {
  private count = 0;
  private check: Promise<boolean> | undefined;

  constructor(
    private readonly db: Database,
    private readonly table: string,
    private readonly threshold = 1_000,
  ) {}

  /** Counts rows this process inserted; past the threshold, checks the statistics once, in the background. */
  recordInserts(rows: number): void {
    if (this.check) return;
    this.count += rows;
    if (this.count < this.threshold) return;
    this.check = this.analyzeIfStale().catch(() => false);
  }

  /** The check, once started: whether it analysed the table. An outage or a missing privilege leaves it to autovacuum. */
  checked(): Promise<boolean> | undefined {
    return this.check;
  }

  private async analyzeIfStale(): Promise<boolean> {
    // reltuples is -1 before the first ANALYZE or VACUUM (PostgreSQL 14+), 0 after one of an empty table.
    const { rows } = await this.db.query<{ reltuples: number }>('SELECT reltuples FROM pg_class WHERE oid = $1::regclass', [this.table]);
    if (!rows[0] || rows[0].reltuples >= this.count) return false;
    await this.db.query(`ANALYZE ${this.table}`);
    return true;
  }
}
