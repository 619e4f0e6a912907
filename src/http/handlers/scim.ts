import type { FastifyReply, FastifyRequest } from 'fastify';
import type { components, operations } from '../../../generated/platform-api.js';
import type { User } from '../../domain/types.js';
import { scimPage } from '../../domain/scim-paging.js';
import { badRequest, forbidden } from '../../domain/errors.js';
import type { UserService } from '../../services/users.js';
import { callerOf } from '../caller.js';
import type { OperationHandlers, OperationRequest } from './operations.js';
import { SCIM_SCHEMAS, SCIM_USER_SCHEMA } from './scim-schemas.js';

type ScimUser = components['schemas']['ScimUser'];

export { SCIM_USER_SCHEMA };
export const SCIM_LIST_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:ListResponse';
export const SCIM_CONTENT_TYPE = 'application/scim+json';

/**
 * `userName eq "<value>"` (RFC 7644 §3.4.2.2): attribute names and operators are case-insensitive,
 * the value is a JSON string. The only filter this server supports; anything else is 400.
 */
export function parseUserNameFilter(filter: string): string {
  const match = /^\s*userName\s+eq\s+("(?:[^"\\]|\\.)*")\s*$/i.exec(filter);
  if (match) {
    try {
      return JSON.parse(match[1]!) as string;
    } catch {
      // fall through to the 400 below
    }
  }
  throw badRequest('Only the filter userName eq "<name>" is supported', [{ code: 'filter', message: filter }], 'invalidFilter');
}

export function toScimUser(user: User, base: string): ScimUser {
  return {
    schemas: [SCIM_USER_SCHEMA],
    id: user.id,
    userName: user.username,
    meta: {
      resourceType: 'User',
      created: user.createdAt.toISOString(),
      lastModified: user.updatedAt.toISOString(),
      location: `${base}/scim2/Users/${user.id}`,
    },
  };
}

/**
 * A SCIM answer: its media type, and never cached (the error handler does the same for SCIM
 * errors). Every answer here carries user data: names, ids, or whether a user exists.
 */
export function scimAnswer(reply: FastifyReply): FastifyReply {
  return reply.type(SCIM_CONTENT_TYPE).header('cache-control', 'no-store');
}

/** Only the super admin manages users (WSO2's default: admin-only SCIM). */
function requireSuperAdmin(request: FastifyRequest): void {
  if (!callerOf(request).isSuperAdmin) throw forbidden("Only the tenant's admin (the super admin in the super tenant) can manage users");
}

type ScimOperations = Pick<operations, 'createUser' | 'listUsers' | 'getUser' | 'deleteUser' | 'getMe' | 'listSchemas'>;

/** /scim2/Users: RFC 7644 user management, super admin only; /scim2/Me and /scim2/Schemas for any caller. */
export class ScimHandlers implements OperationHandlers<ScimOperations> {
  constructor(
    private readonly users: UserService,
    /**
     * The configured public URL (DCR_PUBLIC_URL) that `meta.location` is built from. Never the
     * request's Host header: a client chooses it, and it came back verbatim in the answer.
     */
    private readonly publicUrl: string,
  ) {}

  async createUser(request: OperationRequest<operations['createUser']>, reply: FastifyReply): Promise<ScimUser> {
    requireSuperAdmin(request);
    const { schemas, userName, password } = request.body;
    if (!schemas.includes(SCIM_USER_SCHEMA)) {
      throw badRequest(`schemas must include ${SCIM_USER_SCHEMA}`, [{ code: 'schemas', message: 'missing User schema' }], 'invalidValue');
    }
    const user = await this.users.create(callerOf(request).tenant, userName, password);
    const body = toScimUser(user, this.publicUrl);
    scimAnswer(reply.code(201)).header('location', body.meta.location);
    return body;
  }

  async listUsers(
    request: OperationRequest<operations['listUsers']>,
    reply: FastifyReply,
  ): Promise<components['schemas']['ScimListResponse']> {
    requireSuperAdmin(request);
    const { filter } = request.query;
    const { startIndex, count } = scimPage(request.query.startIndex, request.query.count);
    const base = this.publicUrl;
    let total: number;
    let users: User[];
    if (filter !== undefined) {
      const user = await this.users.findByUserNameIgnoringCase(callerOf(request).tenant, parseUserNameFilter(filter));
      const all = user ? [user] : [];
      total = all.length;
      users = all.slice(startIndex - 1, startIndex - 1 + count);
    } else {
      ({ total, users } = await this.users.list(callerOf(request).tenant, startIndex - 1, count));
    }
    scimAnswer(reply);
    return {
      schemas: [SCIM_LIST_SCHEMA],
      totalResults: total,
      startIndex,
      itemsPerPage: users.length,
      Resources: users.map((user) => toScimUser(user, base)),
    };
  }

  async getUser(request: OperationRequest<operations['getUser']>, reply: FastifyReply): Promise<ScimUser> {
    requireSuperAdmin(request);
    const user = await this.users.get(callerOf(request).tenant, request.params.id);
    scimAnswer(reply);
    return toScimUser(user, this.publicUrl);
  }

  async deleteUser(request: OperationRequest<operations['deleteUser']>, reply: FastifyReply): Promise<undefined> {
    requireSuperAdmin(request);
    await this.users.delete(callerOf(request).tenant, request.params.id);
    // No body, so no media type; not cached all the same.
    reply.code(204).header('cache-control', 'no-store');
    return undefined;
  }

  /**
   * The caller's own user: API Manager's "userinfo", read with the user's bearer token. A
   * client_credentials token acts for its application's owner (its `sub`), so it answers the owner.
   */
  async getMe(request: OperationRequest<operations['getMe']>, reply: FastifyReply): Promise<ScimUser> {
    const user = await this.users.me(callerOf(request));
    scimAnswer(reply);
    return toScimUser(user, this.publicUrl);
  }

  /** RFC 7644 §4, as a bare array: how API Manager's connector reads it. */
  async listSchemas(_request: OperationRequest<operations['listSchemas']>, reply: FastifyReply): Promise<components['schemas']['ScimSchemaDefinition'][]> {
    scimAnswer(reply);
    return [...SCIM_SCHEMAS];
  }
}
