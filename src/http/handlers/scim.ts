import type { FastifyReply, FastifyRequest } from 'fastify';
import type { components, operations } from '../../../generated/platform-api.js';
import type { User } from '../../domain/types.js';
import { scimPage } from '../../domain/scim-paging.js';
import { badRequest, forbidden } from '../../domain/errors.js';
import type { UserService } from '../../services/users.js';
import { callerOf } from '../caller.js';
import type { OperationHandlers, OperationRequest } from './operations.js';

type ScimUser = components['schemas']['ScimUser'];

export const SCIM_USER_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:User';
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
function scimAnswer(reply: FastifyReply): FastifyReply {
  return reply.type(SCIM_CONTENT_TYPE).header('cache-control', 'no-store');
}

/** Only the super admin manages users (WSO2's default: admin-only SCIM). */
function requireSuperAdmin(request: FastifyRequest): void {
  if (!callerOf(request).isSuperAdmin) throw forbidden('Only the super admin can manage users');
}

type ScimOperations = Pick<operations, 'createUser' | 'listUsers' | 'getUser' | 'deleteUser'>;

/** /scim2/Users: RFC 7644 user management, super admin only. */
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
    const user = await this.users.create(userName, password);
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
      const user = await this.users.findByUserNameIgnoringCase(parseUserNameFilter(filter));
      const all = user ? [user] : [];
      total = all.length;
      users = all.slice(startIndex - 1, startIndex - 1 + count);
    } else {
      ({ total, users } = await this.users.list(startIndex - 1, count));
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
    const user = await this.users.get(request.params.id);
    scimAnswer(reply);
    return toScimUser(user, this.publicUrl);
  }

  async deleteUser(request: OperationRequest<operations['deleteUser']>, reply: FastifyReply): Promise<undefined> {
    requireSuperAdmin(request);
    await this.users.delete(request.params.id);
    // No body, so no media type; not cached all the same.
    reply.code(204).header('cache-control', 'no-store');
    return undefined;
  }
}
