import type { Database, Queryable } from '../db/database.js';

export interface StoredSigningKey {
  kid: string;
  alg: string;
  publicJwk: Record<string, unknown>;
  privateJwkEnc: string;
  createdAt: Date;
  retiredAt: Date | null;
}

/** Each tenant has keys of its own (reference §8): every method works within one (`tenant`: its id). */
export interface SigningKeyRepository {
  /** Keys that still verify: the active ones and those retired less than `graceSeconds` ago. */
  listVerifying(tenant: number, graceSeconds: number): Promise<StoredSigningKey[]>;
  /** One key by kid, if it still verifies (see listVerifying). */
  findVerifying(tenant: number, kid: string, graceSeconds: number): Promise<StoredSigningKey | undefined>;
  /** Inserts `key` and retires every other active key of the tenant, in one transaction. */
  activate(tenant: number, key: Omit<StoredSigningKey, 'createdAt' | 'retiredAt'>): Promise<void>;
  /**
   * Unless an active key of algorithm `alg` exists, runs `create` and makes its key the active one
   * (retiring any other: a change of DCR_JWT_ALG rotates), under a transaction-scoped advisory lock,
   * so instances starting together (or signing a tenant's first token together) agree on one key.
   */
  ensureActive(tenant: number, alg: string, create: () => Promise<Omit<StoredSigningKey, 'createdAt' | 'retiredAt'>>): Promise<void>;
  /**
   * The tenants whose keys were created or retired at or after `since`, of every tenant (upkeep:
   * over the maintenance connection), each with the kid it signs with now (its newest active key;
   * null when none is), and the database's clock when asked. Without `since`, none.
   */
  tenantsChangedSince(since: Date | undefined): Promise<{ at: Date; tenants: KeyChange[] }>;
}

/** A tenant whose keys changed, and the kid it signs with now. */
export interface KeyChange {
  tenant: number;
  activeKid: string | null;
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

/** Arbitrary constant naming this lock among the database's advisory locks; the second key is the tenant. */
const KEY_LOCK = 727_001;
const COLUMNS = 'kid, alg, public_jwk, private_jwk_enc, created_at, retired_at';

export class PgSigningKeyRepository implements SigningKeyRepository {
  constructor(
    private readonly db: Database,
    /** The login role's connection, a member of dcr_maintenance: it sees every tenant's keys (migration 012). */
    private readonly maintenance: Database = db,
  ) {}

  async tenantsChangedSince(since: Date | undefined): Promise<{ at: Date; tenants: KeyChange[] }> {
    // Two arrays in one row (the clock's row even when nothing changed); the active kid as
    // listVerifying's first active key, by signing_keys_tenant_idx.
    const { rows } = await this.maintenance.query<{ at: Date; tenants: number[] | null; kids: (string | null)[] | null }>(
      `WITH changed AS (
         SELECT DISTINCT tenant_id FROM signing_keys
         WHERE $1::timestamptz IS NOT NULL AND (created_at >= $1 OR retired_at >= $1))
       SELECT now() AS at, array_agg(c.tenant_id) AS tenants,
         array_agg((SELECT k.kid FROM signing_keys k WHERE k.tenant_id = c.tenant_id AND k.retired_at IS NULL
                    ORDER BY k.created_at DESC LIMIT 1)) AS kids
       FROM (SELECT 1) one LEFT JOIN changed c ON true`,
      [since ?? null],
    );
    const { at, tenants, kids } = rows[0]!;
    return { at, tenants: (tenants ?? []).flatMap((tenant, i) => (tenant === null ? [] : [{ tenant, activeKid: kids?.[i] ?? null }])) };
  }

  async listVerifying(tenant: number, graceSeconds: number): Promise<StoredSigningKey[]> {
    const { rows } = await this.db.queryIn<Row>(
      tenant,
      `SELECT ${COLUMNS} FROM signing_keys
       WHERE tenant_id = $2 AND (retired_at IS NULL OR retired_at > now() - make_interval(secs => $1))
       ORDER BY created_at DESC`,
      [graceSeconds, tenant],
    );
    return rows.map(toKey);
  }

  async findVerifying(tenant: number, kid: string, graceSeconds: number): Promise<StoredSigningKey | undefined> {
    const { rows } = await this.db.queryIn<Row>(
      tenant,
      `SELECT ${COLUMNS} FROM signing_keys
       WHERE kid = $1 AND tenant_id = $3 AND (retired_at IS NULL OR retired_at > now() - make_interval(secs => $2))`,
      [kid, graceSeconds, tenant],
    );
    return rows[0] && toKey(rows[0]);
  }

  async activate(tenant: number, key: Omit<StoredSigningKey, 'createdAt' | 'retiredAt'>): Promise<void> {
    await this.db.transactionIn(tenant, async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock($1, $2)', [KEY_LOCK, tenant]);
      await insertActive(tx, tenant, key);
    });
  }

  async ensureActive(tenant: number, alg: string, create: () => Promise<Omit<StoredSigningKey, 'createdAt' | 'retiredAt'>>): Promise<void> {
    await this.db.transactionIn(tenant, async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock($1, $2)', [KEY_LOCK, tenant]);
      const { rowCount } = await tx.query('SELECT 1 FROM signing_keys WHERE retired_at IS NULL AND alg = $1 AND tenant_id = $2 LIMIT 1', [alg, tenant]);
      if (!rowCount) await insertActive(tx, tenant, await create());
    });
  }
}

/** Retires every active key of the tenant and inserts `key`, active (the caller holds KEY_LOCK in `tx`). */
async function insertActive(tx: Queryable, tenant: number, key: Omit<StoredSigningKey, 'createdAt' | 'retiredAt'>): Promise<void> {
  await tx.query('UPDATE signing_keys SET retired_at = now() WHERE retired_at IS NULL AND tenant_id = $1', [tenant]);
  await tx.query('INSERT INTO signing_keys (kid, tenant_id, alg, public_jwk, private_jwk_enc) VALUES ($1, $5, $2, $3, $4)', [
    key.kid,
    key.alg,
    key.publicJwk,
    key.privateJwkEnc,
    tenant,
  ]);
}
