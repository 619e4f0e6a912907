import type { Database, NamedStatement } from '../db/database.js';
import { UniqueViolation } from '../db/errors.js';
import type { User } from '../domain/types.js';

export class DuplicateUserName extends Error {
  override name = 'DuplicateUserName';
}

export interface UserPage {
  total: number;
  users: User[];
}

/** Every method works within one tenant (`tenant`: its id): names are unique per tenant. */
export interface UserRepository {
  findByUsername(tenant: number, username: string): Promise<User | undefined>;
  /** Case-insensitive: the one user whose name equals this one ignoring case (names are unique so). */
  findByUsernameIgnoringCase(tenant: number, username: string): Promise<User | undefined>;
  findById(tenant: number, id: string): Promise<User | undefined>;
  /** Throws DuplicateUserName when the name (ignoring case) is taken in the tenant. */
  create(tenant: number, user: { id: string; username: string; passwordHash: string }): Promise<User>;
  setPasswordHash(tenant: number, id: string, passwordHash: string): Promise<void>;
  delete(tenant: number, id: string): Promise<boolean>;
  /** Ordered by creation; `offset` is 0-based. */
  list(tenant: number, offset: number, limit: number): Promise<UserPage>;
}

interface UserRow {
  id: string;
  tenant_id: number;
  username: string;
  password_hash: string;
  created_at: Date;
  updated_at: Date;
}

const COLUMNS = 'id, tenant_id, username, password_hash, created_at, updated_at';
/** Every Basic authentication runs it: prepared once per connection, coalesced (Database.lookup). */
const BY_USERNAMES: NamedStatement = {
  name: 'users_by_username',
  text: `SELECT ${COLUMNS} FROM users WHERE (username, tenant_id) IN (SELECT * FROM unnest($1::text[], $2::int[]))`,
};
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function toUser(row: UserRow): User {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    username: row.username,
    passwordHash: row.password_hash,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export class PgUserRepository implements UserRepository {
  /** The lookups of a burst of authentications, one statement at a time. */
  private readonly byUsername: (tenant: number, username: string) => Promise<UserRow | undefined>;

  constructor(private readonly db: Database) {
    this.byUsername = db.lookup<UserRow>(BY_USERNAMES, (row) => row.username);
  }

  async findByUsername(tenant: number, username: string): Promise<User | undefined> {
    // No stored name holds NUL (PostgreSQL text cannot); asking would only fail with 22021.
    if (username.includes('\u0000')) return undefined;
    const row = await this.byUsername(tenant, username);
    return row && toUser(row);
  }

  async findByUsernameIgnoringCase(tenant: number, username: string): Promise<User | undefined> {
    const { rows } = await this.db.queryIn<UserRow>(tenant, `SELECT ${COLUMNS} FROM users WHERE lower(username) = lower($1) AND tenant_id = $2`, [
      username,
      tenant,
    ]);
    return rows[0] && toUser(rows[0]);
  }

  async findById(tenant: number, id: string): Promise<User | undefined> {
    // Not a UUID cannot name a user; asking Postgres would only fail with 22P02.
    if (!UUID.test(id)) return undefined;
    const { rows } = await this.db.queryIn<UserRow>(tenant, `SELECT ${COLUMNS} FROM users WHERE id = $1 AND tenant_id = $2`, [id, tenant]);
    return rows[0] && toUser(rows[0]);
  }

  async create(tenant: number, user: { id: string; username: string; passwordHash: string }): Promise<User> {
    try {
      const { rows } = await this.db.queryIn<UserRow>(
        tenant,
        `INSERT INTO users (id, tenant_id, username, password_hash) VALUES ($1, $4, $2, $3) RETURNING ${COLUMNS}`,
        [user.id, user.username, user.passwordHash, tenant],
      );
      return toUser(rows[0]!);
    } catch (err) {
      if (err instanceof UniqueViolation) throw new DuplicateUserName(user.username);
      throw err;
    }
  }

  async setPasswordHash(tenant: number, id: string, passwordHash: string): Promise<void> {
    await this.db.queryIn(tenant, 'UPDATE users SET password_hash = $2, updated_at = now() WHERE id = $1 AND tenant_id = $3', [id, passwordHash, tenant]);
  }

  async delete(tenant: number, id: string): Promise<boolean> {
    if (!UUID.test(id)) return false;
    const { rowCount } = await this.db.queryIn(tenant, 'DELETE FROM users WHERE id = $1 AND tenant_id = $2', [id, tenant]);
    return rowCount === 1;
  }

  async list(tenant: number, offset: number, limit: number): Promise<UserPage> {
    const { rows } = await this.db.queryIn<UserRow & { total: string }>(
      tenant,
      `SELECT ${COLUMNS}, count(*) OVER () AS total FROM users WHERE tenant_id = $3 ORDER BY created_at, id OFFSET $1 LIMIT $2`,
      [offset, limit, tenant],
    );
    let total = rows[0] ? Number(rows[0].total) : 0;
    // An empty page (past the end, or count=0, RFC 7644 §3.4.2.4) carries no window count.
    if (rows.length === 0 && (offset > 0 || limit === 0)) {
      const count = await this.db.queryIn<{ n: string }>(tenant, 'SELECT count(*) AS n FROM users WHERE tenant_id = $1', [tenant]);
      total = Number(count.rows[0]!.n);
    }
    return { total, users: rows.map(toUser) };
  }
}
