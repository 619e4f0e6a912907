import type { QueryResult, QueryResultRow } from 'pg';
import type { Database } from '../db/database.js';
import { ForeignKeyViolation, UniqueViolation } from '../db/errors.js';
import type { Role, RoleChange, RoleMember } from '../domain/roles.js';

export class DuplicateRoleName extends Error {
  override name = 'DuplicateRoleName';
}

/** A member's user was deleted between its lookup and the write that adds it. */
export class UnknownRoleMember extends Error {
  override name = 'UnknownRoleMember';
}

export interface RolePage {
  total: number;
  roles: Role[];
}

export interface NewRole {
  id: string;
  displayName: string;
  userIds: readonly string[];
  permissions: readonly string[];
}

/** Every method works within one tenant (`tenant`: its id); role names are unique per tenant. */
export interface RoleRepository {
  /** Throws DuplicateRoleName when the name is taken, UnknownRoleMember when a user is gone. */
  create(tenant: number, role: NewRole): Promise<Role>;
  findById(tenant: number, id: string): Promise<Role | undefined>;
  /** Exact: role names are unique as written (migration 009). */
  findByDisplayName(tenant: number, displayName: string): Promise<Role | undefined>;
  /** Ordered by creation; `offset` is 0-based. */
  list(tenant: number, offset: number, limit: number): Promise<RolePage>;
  /**
   * Applies `changes` in order, all or none; the role as it is then, or undefined when there is no
   * such role. Throws as create does (a rename to a taken name, a user gone).
   */
  update(tenant: number, id: string, changes: readonly RoleChange<string>[]): Promise<Role | undefined>;
  delete(tenant: number, id: string): Promise<boolean>;
  /**
   * The users these references name: each by its id when it is one, else by name ignoring case
   * (names are unique so). A reference that names no user is absent from the map.
   */
  findMembers(tenant: number, references: readonly string[]): Promise<Map<string, RoleMember>>;
}

interface RoleRow {
  id: string;
  display_name: string;
  created_at: Date;
  updated_at: Date;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const COLUMNS = 'id, display_name, created_at, updated_at';

/** What the statements below run on: the pool (Database) or a transaction's client. */
interface Sql {
  query<R extends QueryResultRow>(text: string, values: unknown[]): Promise<QueryResult<R>>;
}

/** A write's constraint failures as the repository's errors (SQLSTATE, then the constraint's name). */
function mapWriteError(err: unknown, displayName?: string): unknown {
  if (err instanceof UniqueViolation && err.constraint === 'roles_display_name_key') return new DuplicateRoleName(displayName);
  if (err instanceof ForeignKeyViolation && err.constraint === 'role_users_user_id_fkey') return new UnknownRoleMember();
  return err;
}

/** The roles of these rows with their users and permissions: three statements, whatever the number of roles. */
async function withMembers(q: Sql, rows: readonly RoleRow[]): Promise<Role[]> {
  if (rows.length === 0) return [];
  const ids = rows.map((row) => row.id);
  const [users, permissions] = await Promise.all([
    q.query<{ role_id: string; id: string; username: string }>(
      `SELECT ru.role_id, u.id, u.username FROM role_users ru JOIN users u ON u.id = ru.user_id
       WHERE ru.role_id = ANY($1::uuid[]) ORDER BY lower(u.username), u.id`,
      [ids],
    ),
    q.query<{ role_id: string; scope_name: string }>(
      'SELECT role_id, scope_name FROM role_permissions WHERE role_id = ANY($1::uuid[]) ORDER BY scope_name COLLATE "C"',
      [ids],
    ),
  ]);
  const roles = new Map<string, Role>(
    rows.map((row) => [
      row.id,
      { id: row.id, displayName: row.display_name, users: [], permissions: [], createdAt: row.created_at, updatedAt: row.updated_at },
    ]),
  );
  for (const row of users.rows) roles.get(row.role_id)!.users.push({ id: row.id, username: row.username });
  for (const row of permissions.rows) roles.get(row.role_id)!.permissions.push(row.scope_name);
  return [...roles.values()];
}

async function addUsers(q: Sql, roleId: string, userIds: readonly string[]): Promise<void> {
  if (userIds.length === 0) return;
  await q.query('INSERT INTO role_users (role_id, user_id) SELECT $1, unnest($2::uuid[]) ON CONFLICT DO NOTHING', [roleId, userIds]);
}

async function addPermissions(q: Sql, roleId: string, scopes: readonly string[]): Promise<void> {
  if (scopes.length === 0) return;
  await q.query('INSERT INTO role_permissions (role_id, scope_name) SELECT $1, unnest($2::text[]) ON CONFLICT DO NOTHING', [roleId, scopes]);
}

/** One change, as SQL: the statements of a PatchOp run in its order inside one transaction. */
async function applyChange(q: Sql, roleId: string, change: RoleChange<string>): Promise<void> {
  if (change.attribute === 'displayName') {
    await q.query('UPDATE roles SET display_name = $2 WHERE id = $1', [roleId, change.value]);
    return;
  }
  const users = change.attribute === 'users';
  if (change.action === 'set') {
    await q.query(users ? 'DELETE FROM role_users WHERE role_id = $1' : 'DELETE FROM role_permissions WHERE role_id = $1', [roleId]);
  }
  if (change.action === 'remove') {
    await q.query(
      users
        ? 'DELETE FROM role_users WHERE role_id = $1 AND user_id = ANY($2::uuid[])'
        : 'DELETE FROM role_permissions WHERE role_id = $1 AND scope_name = ANY($2::text[])',
      [roleId, change.values],
    );
    return;
  }
  await (users ? addUsers(q, roleId, change.values) : addPermissions(q, roleId, change.values));
}

export class PgRoleRepository implements RoleRepository {
  constructor(private readonly db: Database) {}

  /** Statements outside a transaction, each in the tenant's scope (row security does the rest). */
  private in(tenant: number): Sql {
    return { query: (text, values) => this.db.queryIn(tenant, text, values) };
  }

  async create(tenant: number, role: NewRole): Promise<Role> {
    try {
      return await this.db.transactionIn(tenant, async (tx) => {
        const { rows } = await tx.query<RoleRow>(`INSERT INTO roles (id, display_name) VALUES ($1, $2) RETURNING ${COLUMNS}`, [
          role.id,
          role.displayName,
        ]);
        await addUsers(tx, role.id, role.userIds);
        await addPermissions(tx, role.id, role.permissions);
        return (await withMembers(tx, rows))[0]!;
      });
    } catch (err) {
      throw mapWriteError(err, role.displayName);
    }
  }

  async findById(tenant: number, id: string): Promise<Role | undefined> {
    // Not a UUID cannot name a role; asking Postgres would only fail with 22P02.
    if (!UUID.test(id)) return undefined;
    const q = this.in(tenant);
    const { rows } = await q.query<RoleRow>(`SELECT ${COLUMNS} FROM roles WHERE id = $1 AND tenant_id = $2`, [id, tenant]);
    return (await withMembers(q, rows))[0];
  }

  async findByDisplayName(tenant: number, displayName: string): Promise<Role | undefined> {
    // No stored name holds NUL (PostgreSQL text cannot); asking would only fail with 22021.
    if (displayName.includes('\u0000')) return undefined;
    const q = this.in(tenant);
    const { rows } = await q.query<RoleRow>(`SELECT ${COLUMNS} FROM roles WHERE display_name = $1 AND tenant_id = $2`, [displayName, tenant]);
    return (await withMembers(q, rows))[0];
  }

  async list(tenant: number, offset: number, limit: number): Promise<RolePage> {
    const q = this.in(tenant);
    const { rows } = await q.query<RoleRow & { total: string }>(
      `SELECT ${COLUMNS}, count(*) OVER () AS total FROM roles WHERE tenant_id = $3 ORDER BY created_at, id OFFSET $1 LIMIT $2`,
      [offset, limit, tenant],
    );
    let total = rows[0] ? Number(rows[0].total) : 0;
    // An empty page (past the end, or count=0, RFC 7644 §3.4.2.4) carries no window count.
    if (rows.length === 0 && (offset > 0 || limit === 0)) {
      const count = await q.query<{ n: string }>('SELECT count(*) AS n FROM roles WHERE tenant_id = $1', [tenant]);
      total = Number(count.rows[0]!.n);
    }
    return { total, roles: await withMembers(q, rows) };
  }

  async update(tenant: number, id: string, changes: readonly RoleChange<string>[]): Promise<Role | undefined> {
    if (!UUID.test(id)) return undefined;
    const rename = changes.findLast((change) => change.attribute === 'displayName');
    try {
      return await this.db.transactionIn(tenant, async (tx) => {
        // The row lock orders concurrent changes of one role (each sees the other's result) and
        // keeps a concurrent delete from leaving memberships of a role that is gone.
        const locked = await tx.query('SELECT 1 FROM roles WHERE id = $1 FOR UPDATE', [id]);
        if (locked.rowCount === 0) return undefined;
        for (const change of changes) await applyChange(tx, id, change);
        const { rows } = await tx.query<RoleRow>(`UPDATE roles SET updated_at = now() WHERE id = $1 RETURNING ${COLUMNS}`, [id]);
        return (await withMembers(tx, rows))[0];
      });
    } catch (err) {
      throw mapWriteError(err, rename?.attribute === 'displayName' ? rename.value : undefined);
    }
  }

  async delete(tenant: number, id: string): Promise<boolean> {
    if (!UUID.test(id)) return false;
    const { rowCount } = await this.db.queryIn(tenant, 'DELETE FROM roles WHERE id = $1 AND tenant_id = $2', [id, tenant]);
    return rowCount === 1;
  }

  async findMembers(tenant: number, references: readonly string[]): Promise<Map<string, RoleMember>> {
    const found = new Map<string, RoleMember>();
    const unique = [...new Set(references)];
    if (unique.length === 0) return found;
    const ids = unique.filter((reference) => UUID.test(reference)).map((id) => id.toLowerCase());
    // NUL cannot be in a stored name (PostgreSQL text cannot hold it): such a reference names no one.
    const names = unique.filter((reference) => !reference.includes('\u0000')).map((name) => name.toLowerCase());
    const { rows } = await this.db.queryIn<{ id: string; username: string }>(
      tenant,
      'SELECT id, username FROM users WHERE tenant_id = $3 AND (id = ANY($1::uuid[]) OR lower(username) = ANY($2::text[]))',
      [ids, names, tenant],
    );
    const byId = new Map(rows.map((row) => [row.id, row]));
    const byName = new Map(rows.map((row) => [row.username.toLowerCase(), row]));
    for (const reference of unique) {
      // An id first: a user name could look like another user's id.
      const row = (UUID.test(reference) ? byId.get(reference.toLowerCase()) : undefined) ?? byName.get(reference.toLowerCase());
      if (row) found.set(reference, { id: row.id, username: row.username });
    }
    return found;
  }
}
