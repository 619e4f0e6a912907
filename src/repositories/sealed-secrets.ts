import type { Database } from '../db/database.js';

/**
 * The columns that hold SecretBox envelopes, for re-encryption under a new secret key
 * (`dcr secrets reencrypt`): each with its row key and the additional authenticated data it was
 * sealed with (src/repositories/applications.ts, src/services/signing-keys.ts).
 */
export const SEALED_COLUMNS = {
  applications: { table: 'applications', key: 'id', column: 'client_secret_enc', aad: 'client_id', first: '00000000-0000-0000-0000-000000000000' },
  signing_keys: { table: 'signing_keys', key: 'kid', column: 'private_jwk_enc', aad: "'signing-key:' || kid", first: '' },
} as const;

export type SealedColumn = keyof typeof SEALED_COLUMNS;

export interface SealedRow {
  key: string;
  aad: string;
  envelope: string;
}

/** The kid of an envelope `v1.<kid>.<iv>.<body>`, in SQL (no LIKE: kids may hold `_`). */
const KID = (column: string) => `split_part(${column}, '.', 2)`;

export class PgSealedSecretRepository {
  constructor(private readonly db: Database) {}

  /** How many envelopes of `which` are not sealed with `kid`. */
  async countNotSealedWith(which: SealedColumn, kid: string): Promise<number> {
    const c = SEALED_COLUMNS[which];
    const { rows } = await this.db.query<{ n: string }>(`SELECT count(*) AS n FROM ${c.table} WHERE ${KID(c.column)} <> $1`, [kid]);
    return Number(rows[0]!.n);
  }

  /** The next `limit` rows after `after` (in key order) whose envelope is not sealed with `kid`. */
  async pageNotSealedWith(which: SealedColumn, kid: string, after: string, limit: number): Promise<SealedRow[]> {
    const c = SEALED_COLUMNS[which];
    const { rows } = await this.db.query<SealedRow>(
      `SELECT ${c.key}::text AS key, ${c.aad} AS aad, ${c.column} AS envelope FROM ${c.table}
       WHERE ${KID(c.column)} <> $1 AND ${c.key} > $2 ORDER BY ${c.key} LIMIT $3`,
      [kid, after, limit],
    );
    return rows;
  }

  /**
   * Compare-and-set: replaces the envelope only if the row still holds `expected`. One statement,
   * so its own short transaction: safe while servers read and write the table. The transaction
   * is marked `dcr.resealing`: the same secret under a new key is no new secret, and the trigger
   * that announces a changed client secret to API Manager (migration 011) lets it pass.
   */
  async replace(which: SealedColumn, key: string, expected: string, next: string): Promise<boolean> {
    const c = SEALED_COLUMNS[which];
    const { rowCount } = await this.db.query(
      `UPDATE ${c.table} SET ${c.column} = $3 FROM (SELECT set_config('dcr.resealing', 'on', true)) AS resealing
       WHERE ${c.key} = $1 AND ${c.column} = $2`,
      [
        key,
        expected,
        next,
      ],
    );
    return rowCount === 1;
  }
}
