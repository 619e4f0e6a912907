import { randomUUID } from 'node:crypto';
import { badRequest, conflict, forbidden, notFound } from '../domain/errors.js';
import {
  checkDisplayName,
  checkPermission,
  parseDisplayNameFilter,
  roleChanges,
  type PatchOperation,
  type Role,
  type RoleChange,
} from '../domain/roles.js';
import { mayIntrospectAll, type AppManagePolicy } from '../domain/scopes.js';
import { SCIM_MAX_COUNT, scimPage, type ScimPage } from '../domain/scim-paging.js';
import type { Caller } from '../domain/types.js';
import { DuplicateRoleName, UnknownRoleMember, type RolePage, type RoleRepository } from '../repositories/roles.js';

export interface RoleInput {
  displayName: string;
  /** Each a user id or a user name. */
  users: readonly string[];
  permissions: readonly string[];
}

/** A role search: `displayName eq <name>` (quoted or not) and RFC 7644 paging. */
export interface RoleQuery {
  filter?: string;
  startIndex?: number;
  count?: number;
}

function unknownUsers(references: readonly string[]): Error {
  const names = references.map((reference) => `'${reference}'`).join(', ');
  return badRequest(`No user has the id or name ${names}`, [{ code: 'users', message: `unknown users: ${names}` }], 'invalidValue');
}

/**
 * /scim2/v2/Roles: the roles API Manager binds scopes to. Managed by whoever may manage every
 * application and read every token (mayIntrospectAll): the super admin, how API Manager's Key
 * Manager connector calls, and the users an explicit DCR_APP_MANAGE_USERS lists. A role decides
 * who is granted a scope, so it is no business of ordinary users.
 */
export class RoleService {
  constructor(
    private readonly roles: RoleRepository,
    private readonly appManagePolicy: AppManagePolicy,
  ) {}

  private authorize(caller: Caller): void {
    if (!mayIntrospectAll(caller, this.appManagePolicy)) {
      throw forbidden('Only the super admin, and the users DCR_APP_MANAGE_USERS lists, manage roles');
    }
  }

  /** The user id each reference names; 400 naming the references that name no user. */
  private async userIds(caller: Caller, references: readonly string[]): Promise<Map<string, string>> {
    const ids = new Map<string, string>();
    if (references.length === 0) return ids;
    // Users of the caller's tenant only: a name of another tenant's user names no one here.
    const members = await this.roles.findMembers(caller.tenant.id, references);
    const unknown = [...new Set(references)].filter((reference) => !members.has(reference));
    if (unknown.length > 0) throw unknownUsers(unknown);
    for (const [reference, member] of members) ids.set(reference, member.id);
    return ids;
  }

  /** The repository's refusals as answers: a name taken is 409, a user deleted meanwhile 400. */
  private async writing<T>(displayName: string | undefined, write: () => Promise<T>): Promise<T> {
    try {
      return await write();
    } catch (err) {
      if (err instanceof DuplicateRoleName) throw conflict(`A role named '${displayName ?? err.message}' already exists`, 'uniqueness');
      if (err instanceof UnknownRoleMember) throw badRequest('A user named as a member was deleted meanwhile', [{ code: 'users', message: 'unknown user' }], 'invalidValue');
      throw err;
    }
  }

  async create(caller: Caller, input: RoleInput): Promise<Role> {
    this.authorize(caller);
    const displayName = checkDisplayName(input.displayName);
    const permissions = [...new Set(input.permissions.map(checkPermission))];
    const ids = await this.userIds(caller, input.users);
    const userIds = [...new Set(input.users.map((reference) => ids.get(reference)!))];
    return this.writing(displayName, () => this.roles.create(caller.tenant.id, { id: randomUUID(), displayName, userIds, permissions }));
  }

  async get(caller: Caller, id: string): Promise<Role> {
    this.authorize(caller);
    const role = await this.roles.findById(caller.tenant.id, id);
    if (!role) throw notFound(`Role ${id} not found`);
    return role;
  }

  /**
   * A page of the roles, or of the one the filter names. Without `count`, as many as are answered
   * at once (1000), not the users' default of 100: API Manager's connector reads one page and
   * takes it for every role.
   */
  async list(caller: Caller, query: RoleQuery): Promise<RolePage & { page: ScimPage }> {
    this.authorize(caller);
    const page = scimPage(query.startIndex, query.count ?? SCIM_MAX_COUNT);
    if (query.filter === undefined) return { page, ...(await this.roles.list(caller.tenant.id, page.startIndex - 1, page.count)) };
    const role = await this.roles.findByDisplayName(caller.tenant.id, parseDisplayNameFilter(query.filter));
    const all = role ? [role] : [];
    return { page, total: all.length, roles: all.slice(page.startIndex - 1, page.startIndex - 1 + page.count) };
  }

  /** RFC 7644 §3.5.2: the operations in order, all or none. */
  async patch(caller: Caller, id: string, operations: readonly PatchOperation[]): Promise<Role> {
    this.authorize(caller);
    const changes = roleChanges(operations);
    // Every member the operations name, looked up at once; an unknown one fails the whole PatchOp.
    const references = changes.flatMap((change) => (change.attribute === 'users' ? change.values : []));
    const ids = await this.userIds(caller, references);
    const resolved = changes.map((change): RoleChange =>
      change.attribute === 'users' ? { ...change, values: [...new Set(change.values.map((reference) => ids.get(reference)!))] } : change,
    );
    const rename = changes.findLast((change) => change.attribute === 'displayName');
    const role = await this.writing(rename?.attribute === 'displayName' ? rename.value : undefined, () => this.roles.update(caller.tenant.id, id, resolved));
    if (!role) throw notFound(`Role ${id} not found`);
    return role;
  }

  async delete(caller: Caller, id: string): Promise<void> {
    this.authorize(caller);
    if (!(await this.roles.delete(caller.tenant.id, id))) throw notFound(`Role ${id} not found`);
  }
}
