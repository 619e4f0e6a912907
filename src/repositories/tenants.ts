import type { Database } from '../db/database.js';
import { UniqueViolation } from '../db/errors.js';
import { SUPER_TENANT, type TenantFilter, type TenantOwner, type TenantRecord } from '../domain/tenants.js';

/** Another tenant has the domain (tenants_domain_key). */
export class DuplicateTenantDomain extends Error {
  override name = 'DuplicateTenantDomain';
}

export interface NewTenant {
  domain: string;
  /** The owner, created in the new tenant with it. */
  owner: { id: string; username: string; passwordHash: string };
}

export interface TenantPage {
  /** Every tenant the filter matches, on all pages. */
  total: number;
  tenants: TenantRecord[];
}

/**
 * The tenant registry (migrations 012, 013). Not tenant-owned, so its statements need no tenant
 * scope; a tenant's users are, so the statements that touch them run in that tenant's scope.
 * The super tenant is a row like the others, but the management API's listing leaves it out
 * (`list`): it is no tenant anyone created.
 */
export interface TenantRepository {
  /**
   * The tenant and its owner, both or neither. Throws DuplicateTenantDomain when the domain is
   * taken. The new tenant's numeric id comes from tenants_id_seq (1, 2, ... as WSO2 numbers them).
   */
  create(tenant: NewTenant): Promise<TenantRecord>;
  findById(id: number): Promise<TenantRecord | undefined>;
  /** By the management API's id; undefined for text that is no UUID. */
  findByUuid(uuid: string): Promise<TenantRecord | undefined>;
  /** `domain` as stored: lower case. */
  findByDomain(domain: string): Promise<TenantRecord | undefined>;
  /** The tenants but the super tenant, oldest first; `offset` is 0-based. */
  list(offset: number, limit: number, filter?: TenantFilter): Promise<TenantPage>;
  /** The tenant as it is then, or undefined when no tenant but the super tenant has that UUID. */
  setActive(uuid: string, active: boolean): Promise<TenantRecord | undefined>;
  /**
   * The tenants whose row changed at or after `since` (every change moves updated_at, migration
   * 015), and the database's clock when asked: the next call's `since`, less an overlap (see
   * TenantDirectory). Without `since`, none: only the clock.
   */
  changedSince(since: Date | undefined): Promise<{ at: Date; tenants: TenantRecord[] }>;
  /** The owners of these tenants (each read in its own tenant), by tenant id: one statement. */
  owners(tenants: readonly Pick<TenantRecord, 'id' | 'ownerId'>[]): Promise<Map<number, TenantOwner[]>>;
}

interface TenantRow {
  id: number;
  uuid: string;
  domain: string;
  active: boolean;
  owner_id: string | null;
  created_at: Date;
  updated_at: Date;
}

const COLUMNS = 'id, uuid, domain, active, owner_id, created_at, updated_at';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function toTenant(row: TenantRow): TenantRecord {
  return {
    id: row.id,
    uuid: row.uuid,
    domain: row.domain,
    active: row.active,
    ownerId: row.owner_id,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

/** A LIKE pattern matching `value` literally. */
function likeLiteral(value: string): string {
  return value.replace(/[\\%_]/g, (ch) => `\\${ch}`);
}

/** The filter as a condition on `domain` ($1) and its parameter. */
function filterCondition(filter: TenantFilter | undefined): { sql: string; values: unknown[] } {
  if (!filter) return { sql: '', values: [] };
  if (filter.operator === 'eq') return { sql: 'AND domain = $1', values: [filter.value] };
  const literal = likeLiteral(filter.value);
  const pattern = filter.operator === 'sw' ? `${literal}%` : filter.operator === 'ew' ? `%${literal}` : `%${literal}%`;
  return { sql: "AND domain LIKE $1 ESCAPE '\\'", values: [pattern] };
}

export class PgTenantRepository implements TenantRepository {
  constructor(private readonly db: Database) {}

  async create(tenant: NewTenant): Promise<TenantRecord> {
    // Taken before the transaction: its scope is the new tenant. A number burned by a failure
    // below is a gap in the numbering, as with any sequence.
    const { rows: next } = await this.db.query<{ id: number }>("SELECT nextval('tenants_id_seq')::integer AS id");
    const id = next[0]!.id;
    try {
      return await this.db.transactionIn(id, async (tx) => {
        // The tenant first (the registry has no row security; owner_id is checked at COMMIT),
        // then its owner, whose row takes the tenant in scope (tenant_id's default): the owner
        // insert failing rolls the tenant back, so there is never a tenant without its owner.
        const { rows } = await tx.query<TenantRow>(`INSERT INTO tenants (id, domain, owner_id) VALUES ($1, $2, $3) RETURNING ${COLUMNS}`, [
          id,
          tenant.domain,
          tenant.owner.id,
        ]);
        await tx.query('INSERT INTO users (id, username, password_hash) VALUES ($1, $2, $3)', [
          tenant.owner.id,
          tenant.owner.username,
          tenant.owner.passwordHash,
        ]);
        return toTenant(rows[0]!);
      });
    } catch (err) {
      if (err instanceof UniqueViolation && err.constraint === 'tenants_domain_key') throw new DuplicateTenantDomain(tenant.domain);
      throw err;
    }
  }

  async findById(id: number): Promise<TenantRecord | undefined> {
    const { rows } = await this.db.query<TenantRow>(`SELECT ${COLUMNS} FROM tenants WHERE id = $1`, [id]);
    return rows[0] && toTenant(rows[0]);
  }

  async findByUuid(uuid: string): Promise<TenantRecord | undefined> {
    // Not a UUID cannot name a tenant; asking Postgres would only fail with 22P02.
    if (!UUID.test(uuid)) return undefined;
    const { rows } = await this.db.query<TenantRow>(`SELECT ${COLUMNS} FROM tenants WHERE uuid = $1`, [uuid]);
    return rows[0] && toTenant(rows[0]);
  }

  async findByDomain(domain: string): Promise<TenantRecord | undefined> {
    const { rows } = await this.db.query<TenantRow>({ name: 'tenant_by_domain', text: `SELECT ${COLUMNS} FROM tenants WHERE domain = $1` }, [domain]);
    return rows[0] && toTenant(rows[0]);
  }

  async changedSince(since: Date | undefined): Promise<{ at: Date; tenants: TenantRecord[] }> {
    const { rows } = await this.db.query<{ at: Date; tenant: TenantRow | null }>(
      {
        name: 'tenants_changed_since',
        text: `SELECT c.at, to_jsonb(t) AS tenant FROM (SELECT now() AS at) c
               LEFT JOIN (SELECT ${COLUMNS} FROM tenants) t ON $1::timestamptz IS NOT NULL AND t.updated_at >= $1`,
      },
      [since ?? null],
    );
    const tenants = rows.flatMap((row) => (row.tenant ? [toTenant({ ...row.tenant, created_at: new Date(row.tenant.created_at), updated_at: new Date(row.tenant.updated_at) })] : []));
    return { at: rows[0]!.at, tenants };
  }

  async list(offset: number, limit: number, filter?: TenantFilter): Promise<TenantPage> {
    const condition = filterCondition(filter);
    const n = condition.values.length;
    // count(*) OVER (): the total in the same statement; a page past the end has no row to carry
    // it, so that case asks once more.
    const { rows } = await this.db.query<TenantRow & { total: string }>(
      `SELECT ${COLUMNS}, count(*) OVER () AS total FROM tenants WHERE id <> ${SUPER_TENANT.id} ${condition.sql}
       ORDER BY created_at, id OFFSET $${n + 1} LIMIT $${n + 2}`,
      [...condition.values, offset, limit],
    );
    if (rows.length > 0) return { total: Number(rows[0]!.total), tenants: rows.map(toTenant) };
    const { rows: counted } = await this.db.query<{ total: string }>(
      `SELECT count(*) AS total FROM tenants WHERE id <> ${SUPER_TENANT.id} ${condition.sql}`,
      condition.values,
    );
    return { total: Number(counted[0]!.total), tenants: [] };
  }

  async setActive(uuid: string, active: boolean): Promise<TenantRecord | undefined> {
    if (!UUID.test(uuid)) return undefined;
    const { rows } = await this.db.query<TenantRow>(
      `UPDATE tenants SET active = $2, updated_at = CASE WHEN active = $2 THEN updated_at ELSE now() END
       WHERE uuid = $1 AND id <> ${SUPER_TENANT.id} RETURNING ${COLUMNS}`,
      [uuid, active],
    );
    return rows[0] && toTenant(rows[0]);
  }

  async owners(tenants: readonly Pick<TenantRecord, 'id' | 'ownerId'>[]): Promise<Map<number, TenantOwner[]>> {
    const owners = new Map<number, TenantOwner[]>(tenants.map((tenant) => [tenant.id, []]));
    const owned = tenants.filter((tenant) => tenant.ownerId !== null);
    if (owned.length === 0) return owners;
    // In the scope of exactly these tenants; the pairs make each owner count only in its own.
    const { rows } = await this.db.queryIn<{ tenant_id: number; id: string; username: string }>(
      owned.map((tenant) => tenant.id),
      `SELECT u.tenant_id, u.id, u.username FROM users u
       JOIN unnest($1::integer[], $2::uuid[]) AS o (tenant_id, owner_id) ON o.tenant_id = u.tenant_id AND o.owner_id = u.id`,
      [owned.map((tenant) => tenant.id), owned.map((tenant) => tenant.ownerId)],
    );
    for (const row of rows) owners.get(row.tenant_id)?.push({ id: row.id, username: row.username });
    return owners;
  }
}
