import type { FastifyReply } from 'fastify';
import type { components, operations } from '../../../generated/platform-api.js';
import { ROLE_SCHEMA, type Role } from '../../domain/roles.js';
import type { RoleQuery, RoleService } from '../../services/roles.js';
import { callerOf } from '../caller.js';
import type { OperationHandlers, OperationRequest } from './operations.js';
import { SCIM_LIST_SCHEMA, scimAnswer } from './scim.js';

type ScimRole = components['schemas']['ScimRole'];
type ScimRoleList = components['schemas']['ScimRoleListResponse'];

export function toScimRole(role: Role, base: string): ScimRole {
  return {
    schemas: [ROLE_SCHEMA],
    id: role.id,
    displayName: role.displayName,
    users: role.users.map((user) => ({ value: user.id, display: user.username })),
    // No display name is kept for a scope: the name is what there is to show.
    permissions: role.permissions.map((scope) => ({ value: scope, display: scope })),
    meta: {
      resourceType: 'Role',
      created: role.createdAt.toISOString(),
      lastModified: role.updatedAt.toISOString(),
      location: `${base}/scim2/v2/Roles/${role.id}`,
    },
  };
}

type RoleOperations = Pick<operations, 'createRole' | 'listRoles' | 'searchRoles' | 'getRole' | 'patchRole' | 'deleteRole'>;

/** /scim2/v2/Roles: WSO2 Identity Server 7's SCIM 2 roles, as API Manager's Key Manager connector calls them. */
export class RoleHandlers implements OperationHandlers<RoleOperations> {
  constructor(
    private readonly roles: RoleService,
    /** DCR_PUBLIC_URL, that `meta.location` is built from (never the request's Host). */
    private readonly publicUrl: string,
  ) {}

  async createRole(request: OperationRequest<operations['createRole']>, reply: FastifyReply): Promise<ScimRole> {
    const { displayName, users = [], permissions = [] } = request.body;
    const role = await this.roles.create(callerOf(request), {
      displayName,
      users: users.map((user) => user.value),
      permissions: permissions.map((permission) => permission.value),
    });
    const body = toScimRole(role, this.publicUrl);
    scimAnswer(reply.code(201)).header('location', body.meta.location);
    return body;
  }

  private async search(
    request: OperationRequest<operations['listRoles']> | OperationRequest<operations['searchRoles']>,
    query: RoleQuery,
    reply: FastifyReply,
  ): Promise<ScimRoleList> {
    const { page, total, roles } = await this.roles.list(callerOf(request), query);
    scimAnswer(reply);
    return {
      schemas: [SCIM_LIST_SCHEMA],
      totalResults: total,
      startIndex: page.startIndex,
      itemsPerPage: roles.length,
      Resources: roles.map((role) => toScimRole(role, this.publicUrl)),
    };
  }

  listRoles(request: OperationRequest<operations['listRoles']>, reply: FastifyReply): Promise<ScimRoleList> {
    return this.search(request, request.query, reply);
  }

  searchRoles(request: OperationRequest<operations['searchRoles']>, reply: FastifyReply): Promise<ScimRoleList> {
    return this.search(request, request.body, reply);
  }

  async getRole(request: OperationRequest<operations['getRole']>, reply: FastifyReply): Promise<ScimRole> {
    const role = await this.roles.get(callerOf(request), request.params.id);
    scimAnswer(reply);
    return toScimRole(role, this.publicUrl);
  }

  /** 200 with the role as it is now (IS's code is not confirmed; the connector takes any 2xx: spec/CHANGES.md). */
  async patchRole(request: OperationRequest<operations['patchRole']>, reply: FastifyReply): Promise<ScimRole> {
    const role = await this.roles.patch(callerOf(request), request.params.id, request.body.Operations);
    scimAnswer(reply);
    return toScimRole(role, this.publicUrl);
  }

  async deleteRole(request: OperationRequest<operations['deleteRole']>, reply: FastifyReply): Promise<undefined> {
    await this.roles.delete(callerOf(request), request.params.id);
    // No body, so no media type; not cached all the same.
    reply.code(204).header('cache-control', 'no-store');
    return undefined;
  }
}
