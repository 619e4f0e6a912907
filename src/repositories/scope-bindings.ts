import type { Database, NamedStatement } from '../db/database.js';
import type { ScopeBinding, ScopeBindings } from '../domain/scopes.js';

/** What the token endpoint needs to know of requested scopes to apply WSO2's role-based rule. */
export interface ScopeBindingRepository {
  /**
   * For each of `scopes` that an API resource defines (api_scopes, migration 008): whether any
   * role names it as a permission, and whether a role of user `subjectId` does (roles, migration 009).
   * Undefined scopes are absent from the answer.
   */
  bindings(tenant: number, scopes: readonly string[], subjectId: string): Promise<ScopeBindings>;
}

interface BindingRow {
  name: string;
  bound_to_roles: boolean;
  held_by_subject: boolean;
}

/**
 * One statement for every requested scope, whatever their number: each EXISTS stops at its first
 * row, by role_permissions' scope_name index and role_users' primary key. A role may name a scope
 * before any resource defines it (no foreign key), so the definition decides, not the role.
 */
const BINDINGS: NamedStatement = {
  name: 'scope_bindings',
  text: `SELECT s.name,
                EXISTS (SELECT 1 FROM role_permissions p WHERE p.scope_name = s.name) AS bound_to_roles,
                EXISTS (SELECT 1 FROM role_permissions p JOIN role_users ru ON ru.role_id = p.role_id
                         WHERE p.scope_name = s.name AND ru.user_id = $2) AS held_by_subject
           FROM api_scopes s
          WHERE s.name = ANY($1::text[]) AND s.tenant_id = $3`,
};

export class PgScopeBindingRepository implements ScopeBindingRepository {
  constructor(private readonly db: Database) {}

  async bindings(tenant: number, scopes: readonly string[], subjectId: string): Promise<ScopeBindings> {
    const result = new Map<string, ScopeBinding>();
    if (scopes.length === 0) return result;
    // The tenant's scopes and roles only (row security; the role tables have no name of their own to compare).
    const { rows } = await this.db.queryIn<BindingRow>(tenant, BINDINGS, [scopes, subjectId, tenant]);
    for (const row of rows) result.set(row.name, { boundToRoles: row.bound_to_roles, heldBySubject: row.held_by_subject });
    return result;
  }
}
