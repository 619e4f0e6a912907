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

export interface UserRepository {
  findByUsername(username: string): Promise<User | undefined>;
  /** Case-insensitive: the one user whose name equals this one ignoring case (names are unique so). */
  findByUsernameIgnoringCase(username: string): Promise<User | undefined>;
  findById(id: string): Promise<User | undefined>;
  /** Throws DuplicateUserName when the name (ignoring case) is taken. */
  create(user: { id: string; username: string; passwordHash: string }): Promise<User>;
  setPasswordHash(id: string, passwordHash: string): Promise<void>;
  delete(id: string): Promise<boolean>;
  /** Ordered by creation; `offset` is 0-based. */
  list(offset: number, limit: number): Promise<UserPage>;
}

interface UserRow {
  id: string;
  username: string;
  password_hash: string;
  created_at: Date;
  updated_at: Date;
}

const COLUMNS = 'id, username, password_hash, created_at, updated_at';
/** Every Basic authentication runs it: prepared once per connection, coalesced (Database.lookup). */
const BY_USERNAMES: NamedStatement = { name: 'users_by_username', text: `SELECT ${COLUMNS} FROM users WHERE username = ANY($1::text[])` };
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function toUser(row: UserRow): User {
  return {
    id: row.id,
    username: row.username,
    passwordHash: row.password_hash,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export class PgUserRepository implements UserRepository {
  /** The lookups of a burst of authentications, one statement at a time. */
  private readonly byUsername: (username: string) => Promise<UserRow | undefined>;

  constructor(private readonly db: Database) {
    this.byUsername = db.lookup<UserRow>(BY_USERNAMES, (row) => row.username);
  }

  async findByUsername(username: string): Promise<User | undefined> {
    // No stored name holds NUL (PostgreSQL text cannot); asking would only fail with 22021.
    if (username.includes('\u0000')) return undefined;
    const row = await this.byUsername(username);
    return row && toUser(row);
  }

  async findByUsernameIgnoringCase(username: string): Promise<User | undefined> {
    const { rows } = await this.db.query<UserRow>(`SELECT ${COLUMNS} FROM users WHERE lower(username) = lower($1)`, [
      username,
    ]);
    return rows[0] && toUser(rows[0]);
  }

  async findById(id: string): Promise<User | undefined> {
    // Not a UUID cannot name a user; asking Postgres would only fail with 22P02.
    if (!UUID.test(id)) return undefined;
    const { rows } = await this.db.query<UserRow>(`SELECT ${COLUMNS} FROM users WHERE id = $1`, [id]);
    return rows[0] && toUser(rows[0]);
  }

  async create(user: { id: string; username: string; passwordHash: string }): Promise<User> {
    try {
      const { rows } = await this.db.query<UserRow>(
        `INSERT INTO users (id, username, password_hash) VALUES ($1, $2, $3) RETURNING ${COLUMNS}`,
        [user.id, user.username, user.passwordHash],
      );
      return toUser(rows[0]!);
    } catch (err) {
      if (err instanceof UniqueViolation) throw new DuplicateUserName(user.username);
      throw err;
    }
  }

  async setPasswordHash(id: string, passwordHash: string): Promise<void> {
    await this.db.query('UPDATE users SET password_hash = $2, updated_at = now() WHERE id = $1', [id, passwordHash]);
  }

  async delete(id: string): Promise<boolean> {
    if (!UUID.test(id)) return false;
    const { rowCount } = await this.db.query('DELETE FROM users WHERE id = $1', [id]);
    return rowCount === 1;
  }

  async list(offset: number, limit: number): Promise<UserPage> {
    const { rows } = await this.db.query<UserRow & { total: string }>(
      `SELECT ${COLUMNS}, count(*) OVER () AS total FROM users ORDER BY created_at, id OFFSET $1 LIMIT $2`,
      [offset, limit],
    );
    let total = rows[0] ? Number(rows[0].total) : 0;
    // An empty page (past the end, or count=0, RFC 7644 §3.4.2.4) carries no window count.
    if (rows.length === 0 && (offset > 0 || limit === 0)) {
      const count = await this.db.query<{ n: string }>('SELECT count(*) AS n FROM users');
      total = Number(count.rows[0]!.n);
    }
    return { total, users: rows.map(toUser) };
  }
}
