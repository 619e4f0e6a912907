import type { Database, Queryable } from '../db/database.js';

export interface StoredSigningKey {
  kid: string;
  alg: string;
  publicJwk: Record<string, unknown>;
  privateJwkEnc: string;
  createdAt: Date;
  retiredAt: Date | null;
}

export interface SigningKeyRepository {
  /** Keys that still verify: the active ones and those retired less than `graceSeconds` ago. */
  listVerifying(graceSeconds: number): Promise<StoredSigningKey[]>;
  /** One key by kid, if it still verifies (see listVerifying). */
  findVerifying(kid: string, graceSeconds: number): Promise<StoredSigningKey | undefined>;
  /** Inserts `key` and retires every other active key, in one transaction. */
  activate(key: Omit<StoredSigningKey, 'createdAt' | 'retiredAt'>): Promise<void>;
  /**
   * Unless an active key of algorithm `alg` exists, runs `create` and makes its key the active one
   * (retiring any other: a change of DCR_JWT_ALG rotates), under a transaction-scoped advisory lock,
   * so instances starting together agree on one key.
   */
  ensureActive(alg: string, create: () => Promise<Omit<StoredSigningKey, 'createdAt' | 'retiredAt'>>): Promise<void>;
}

interface Row {
  kid: string;
  alg: string;
  public_jwk: Record<string, unknown>;
  private_jwk_enc: string;
  created_at: Date;
  retired_at: Date | null;
}

const toKey = (row: Row): StoredSigningKey => ({
  kid: row.kid,
  alg: row.alg,
  publicJwk: row.public_jwk,
  privateJwkEnc: row.private_jwk_enc,
  createdAt: row.created_at,
  retiredAt: row.retired_at,
});

/** Arbitrary constant naming this lock among the database's advisory locks. */
const KEY_LOCK = 727_001;

export class PgSigningKeyRepository implements SigningKeyRepository {
  constructor(private readonly db: Database) {}

  async listVerifying(graceSeconds: number): Promise<StoredSigningKey[]> {
    const { rows } = await this.db.query<Row>(
      `SELECT * FROM signing_keys
       WHERE retired_at IS NULL OR retired_at > now() - make_interval(secs => $1)
       ORDER BY created_at DESC`,
      [graceSeconds],
    );
    return rows.map(toKey);
  }

  async findVerifying(kid: string, graceSeconds: number): Promise<StoredSigningKey | undefined> {
    const { rows } = await this.db.query<Row>(
      `SELECT * FROM signing_keys
       WHERE kid = $1 AND (retired_at IS NULL OR retired_at > now() - make_interval(secs => $2))`,
      [kid, graceSeconds],
    );
    return rows[0] && toKey(rows[0]);
  }

  async activate(key: Omit<StoredSigningKey, 'createdAt' | 'retiredAt'>): Promise<void> {
    await this.db.transaction(async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock($1)', [KEY_LOCK]);
      await insertActive(tx, key);
    });
  }

  async ensureActive(alg: string, create: () => Promise<Omit<StoredSigningKey, 'createdAt' | 'retiredAt'>>): Promise<void> {
    await this.db.transaction(async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock($1)', [KEY_LOCK]);
      const { rowCount } = await tx.query('SELECT 1 FROM signing_keys WHERE retired_at IS NULL AND alg = $1 LIMIT 1', [alg]);
      if (!rowCount) await insertActive(tx, await create());
    });
  }
}

/** Retires every active key and inserts `key`, active (the caller holds KEY_LOCK in `tx`). */
async function insertActive(tx: Queryable, key: Omit<StoredSigningKey, 'createdAt' | 'retiredAt'>): Promise<void> {
  await tx.query('UPDATE signing_keys SET retired_at = now() WHERE retired_at IS NULL');
  await tx.query('INSERT INTO signing_keys (kid, alg, public_jwk, private_jwk_enc) VALUES ($1, $2, $3, $4)', [
    key.kid,
    key.alg,
    key.publicJwk,
    key.privateJwkEnc,
  ]);
}
