import type { Database, Queryable } from '../db/database.js';
import { UniqueViolation } from '../db/errors.js';
import type { ApiResource, ApiResourceSummary, ApiScope, PageQuery } from '../domain/api-resources.js';

/** Another resource has this identifier. */
export class DuplicateApiResource extends Error {
  override name = 'DuplicateApiResource';
}

/** Scopes of these names exist already (in any resource of the tenant: names are unique across its resources). */
export class DuplicateScope extends Error {
  override name = 'DuplicateScope';
  constructor(readonly names: readonly string[]) {
    super(`scopes already defined: ${names.join(', ')}`);
  }
}

export interface NewApiResource {
  id: string;
  identifier: string;
  name: string;
  description: string | null;
  requiresAuthorization: boolean;
  type: string;
}

export interface ApiResourceChanges {
  name?: string;
  description?: string;
  /** Scope names to remove from this resource first; names it does not define are ignored. */
  removedScopes: readonly string[];
  addedScopes: readonly ApiScope[];
}

export interface ApiResourceRepository {
  /** Throws DuplicateApiResource or DuplicateScope, and then stores nothing. */
  create(tenant: number, resource: NewApiResource, scopes: readonly ApiScope[]): Promise<ApiResource>;
  /** The resource with its scopes (oldest first; by name, in code-unit order, within one write). */
  findById(tenant: number, id: string): Promise<ApiResource | undefined>;
  /** One more row than `limit` when there are more, in the direction asked; and the count of all matches. */
  list(tenant: number, query: PageQuery): Promise<{ total: number; rows: ApiResourceSummary[] }>;
  /** False when there is no such resource. Throws DuplicateScope, and then changes nothing. */
  update(tenant: number, id: string, changes: ApiResourceChanges): Promise<boolean>;
  /** False when the resource defines no scope of that name. */
  updateScope(tenant: number, id: string, name: string, changes: { displayName?: string; description?: string }): Promise<boolean>;
  delete(tenant: number, id: string): Promise<void>;
  deleteScope(tenant: number, id: string, name: string): Promise<void>;
}

interface ResourceRow {
  id: string;
  identifier: string;
  name: string;
  description: string | null;
  requires_authorization: boolean;
  type: string | null;
}

interface ScopeRow {
  name: string;
  display_name: string | null;
  description: string | null;
}

const COLUMNS = 'id, identifier, name, description, requires_authorization, type';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** The unique constraint on the identifier (migration 008); the only other key, the id, is random. */
const IDENTIFIER_KEY = 'api_resources_identifier_key';

function toSummary(row: ResourceRow): ApiResourceSummary {
  return {
    id: row.id,
    identifier: row.identifier,
    name: row.name,
    description: row.description,
    requiresAuthorization: row.requires_authorization,
    type: row.type,
  };
}

/** Code-unit order, as COLLATE "C" sorts (scope names are ASCII). */
const byName = (a: ApiScope, b: ApiScope) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

function toScope(row: ScopeRow): ApiScope {
  return { name: row.name, displayName: row.display_name ?? row.name, description: row.description };
}

/**
 * Inserts `scopes` into resource `id` within the caller's transaction. A name that exists already
 * (here or in another resource) is left alone by ON CONFLICT, and named by the DuplicateScope
 * thrown, which rolls the transaction back: the statement waits for a concurrent writer of the
 * same name, so two writers never both succeed.
 */
async function insertScopes(tx: Queryable, id: string, scopes: readonly ApiScope[]): Promise<void> {
  if (scopes.length === 0) return;
  const { rows } = await tx.query<{ name: string }>(
    `INSERT INTO api_scopes (name, resource_id, display_name, description)
     SELECT s.name, $1::uuid, s.display_name, s.description
       FROM unnest($2::text[], $3::text[], $4::text[]) AS s(name, display_name, description)
     ON CONFLICT (name, tenant_id) DO NOTHING
     RETURNING name`,
    [id, scopes.map((scope) => scope.name), scopes.map((scope) => scope.displayName), scopes.map((scope) => scope.description)],
  );
  if (rows.length < scopes.length) {
    const inserted = new Set(rows.map((row) => row.name));
    throw new DuplicateScope(scopes.map((scope) => scope.name).filter((name) => !inserted.has(name)));
  }
}

export class PgApiResourceRepository implements ApiResourceRepository {
  constructor(private readonly db: Database) {}

  async create(tenant: number, resource: NewApiResource, scopes: readonly ApiScope[]): Promise<ApiResource> {
    try {
      return await this.db.transactionIn(tenant, async (tx) => {
        const { rows } = await tx.query<ResourceRow>(
          `INSERT INTO api_resources (id, identifier, name, description, requires_authorization, type)
           VALUES ($1, $2, $3, $4, $5, $6) RETURNING ${COLUMNS}`,
          [resource.id, resource.identifier, resource.name, resource.description, resource.requiresAuthorization, resource.type],
        );
        await insertScopes(tx, resource.id, scopes);
        // In the order findById reads them: one write's scopes share created_at, then by name.
        return { ...toSummary(rows[0]!), scopes: [...scopes].sort(byName) };
      });
    } catch (err) {
      if (err instanceof UniqueViolation && err.constraint === IDENTIFIER_KEY) throw new DuplicateApiResource(resource.identifier);
      throw err;
    }
  }

  async findById(tenant: number, id: string): Promise<ApiResource | undefined> {
    // Not a UUID cannot name a resource; asking Postgres would only fail with 22P02.
    if (!UUID.test(id)) return undefined;
    const { rows } = await this.db.queryIn<ResourceRow & { scopes: ScopeRow[] }>(
      tenant,
      `SELECT r.id, r.identifier, r.name, r.description, r.requires_authorization, r.type,
              COALESCE(json_agg(json_build_object('name', s.name, 'display_name', s.display_name, 'description', s.description)
                                ORDER BY s.created_at, s.name COLLATE "C") FILTER (WHERE s.name IS NOT NULL), '[]') AS scopes
         FROM api_resources r LEFT JOIN api_scopes s ON s.resource_id = r.id
        WHERE r.id = $1 AND r.tenant_id = $2
        GROUP BY r.id`,
      [id, tenant],
    );
    const row = rows[0];
    return row && { ...toSummary(row), scopes: row.scopes.map(toScope) };
  }

  async list(tenant: number, query: PageQuery): Promise<{ total: number; rows: ApiResourceSummary[] }> {
    // Creation order, the id breaking ties; a cursor is a resource's id, and the page starts next
    // to that resource's place (a deleted one's place is gone: the page is then empty).
    const backwards = query.before !== undefined;
    const cursor = query.before ?? query.after;
    const values: unknown[] = [query.identifier ?? null, query.limit + 1];
    let where = '($1::text IS NULL OR identifier = $1)';
    if (cursor !== undefined) {
      values.push(cursor);
      where += ` AND (created_at, id) ${backwards ? '<' : '>'} (SELECT created_at, id FROM api_resources WHERE id = $3)`;
    }
    const order = backwards ? 'created_at DESC, id DESC' : 'created_at, id';
    const [page, count] = await Promise.all([
      // The tenant's resources: row security (the statements name no tenant of their own).
      this.db.queryIn<ResourceRow>(tenant, `SELECT ${COLUMNS} FROM api_resources WHERE ${where} ORDER BY ${order} LIMIT $2`, values),
      this.db.queryIn<{ n: string }>(tenant, 'SELECT count(*) AS n FROM api_resources WHERE ($1::text IS NULL OR identifier = $1)', [
        query.identifier ?? null,
      ]),
    ]);
    return { total: Number(count.rows[0]!.n), rows: page.rows.map(toSummary) };
  }

  async update(tenant: number, id: string, changes: ApiResourceChanges): Promise<boolean> {
    if (!UUID.test(id)) return false;
    return this.db.transactionIn(tenant, async (tx) => {
      // First, so that the row is locked for the scope changes below and a missing one ends here.
      const { rowCount } = await tx.query(
        `UPDATE api_resources SET name = COALESCE($2, name), description = COALESCE($3, description), updated_at = now()
          WHERE id = $1`,
        [id, changes.name ?? null, changes.description ?? null],
      );
      if (rowCount === 0) return false;
      if (changes.removedScopes.length > 0) {
        await tx.query('DELETE FROM api_scopes WHERE resource_id = $1 AND name = ANY($2::text[])', [id, changes.removedScopes]);
      }
      await insertScopes(tx, id, changes.addedScopes);
      return true;
    });
  }

  async updateScope(tenant: number, id: string, name: string, changes: { displayName?: string; description?: string }): Promise<boolean> {
    if (!UUID.test(id)) return false;
    const { rowCount } = await this.db.queryIn(
      tenant,
      `UPDATE api_scopes SET display_name = COALESCE($3, display_name), description = COALESCE($4, description)
        WHERE resource_id = $1 AND name = $2`,
      [id, name, changes.displayName ?? null, changes.description ?? null],
    );
    return rowCount === 1;
  }

  async delete(tenant: number, id: string): Promise<void> {
    if (!UUID.test(id)) return;
    // Its scopes go with it (ON DELETE CASCADE, migration 008).
    await this.db.queryIn(tenant, 'DELETE FROM api_resources WHERE id = $1', [id]);
  }

  async deleteScope(tenant: number, id: string, name: string): Promise<void> {
    if (!UUID.test(id)) return;
    await this.db.queryIn(tenant, 'DELETE FROM api_scopes WHERE resource_id = $1 AND name = $2', [id, name]);
  }
}
