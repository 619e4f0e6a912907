import { randomUUID } from 'node:crypto';
import {
  BUSINESS_TYPE,
  apiResourceErrors,
  checkNewResource,
  checkResourceName,
  isIdentifier,
  isScopeName,
  pageOf,
  pageQuery,
  parseIdentifierFilter,
  scopesToDefine,
  type ApiResource,
  type ApiResourceSummary,
  type ApiScope,
  type PageLinks,
  type ScopeInput,
} from '../domain/api-resources.js';
import { forbidden } from '../domain/errors.js';
import { mayIntrospectAll, type AppManagePolicy } from '../domain/scopes.js';
import type { Caller } from '../domain/types.js';
import { DuplicateApiResource, DuplicateScope, type ApiResourceRepository } from '../repositories/api-resources.js';

export interface NewApiResourceInput {
  identifier: string;
  name: string;
  description?: string | null;
  requiresAuthorization?: boolean;
  scopes?: readonly ScopeInput[];
}

export interface ApiResourcePatchInput {
  name?: string;
  description?: string | null;
  addedScopes?: readonly ScopeInput[];
  removedScopes?: readonly string[];
}

export interface ApiResourcePage {
  total: number;
  resources: ApiResourceSummary[];
  links: PageLinks;
  /** The page size applied (the default, or the one asked for, capped). */
  limit: number;
}

/** Repository conflicts as IS's 409s. */
function conflicts(err: unknown): never {
  if (err instanceof DuplicateApiResource) throw apiResourceErrors.identifierTaken();
  if (err instanceof DuplicateScope) throw apiResourceErrors.scopeTaken(err.names);
  throw err;
}

/**
 * API resources and their scopes (/api/server/v1/api-resources), as WSO2 IS 7 manages them for
 * API Manager's Key Manager connector.
 */
export class ApiResourceService {
  constructor(
    private readonly resources: ApiResourceRepository,
    private readonly appManagePolicy: AppManagePolicy,
  ) {}

  /**
   * Who manages API resources: the Key Manager's admin, by the rule of who introspects every
   * token (the connector makes both calls with the same admin credentials), that is the super
   * admin and the users an explicit DCR_APP_MANAGE_USERS lists. A scope defined here decides
   * what tokens may carry, which no ordinary user may change.
   */
  private authorize(caller: Caller): void {
    if (!mayIntrospectAll(caller, this.appManagePolicy)) throw forbidden('Only the super admin, or a user DCR_APP_MANAGE_USERS lists, manages API resources');
  }

  private async existing(caller: Caller, id: string): Promise<ApiResource> {
    const resource = await this.resources.findById(caller.tenant.id, id);
    if (!resource) throw apiResourceErrors.notFound(id);
    return resource;
  }

  async list(caller: Caller, query: { filter?: string; limit?: number; after?: string; before?: string }): Promise<ApiResourcePage> {
    this.authorize(caller);
    const identifier = query.filter === undefined ? undefined : parseIdentifierFilter(query.filter);
    const page = pageQuery({ ...query, ...(identifier === undefined ? {} : { identifier }) });
    // An identifier no resource can have (a control character) matches none; it is not looked up.
    if (identifier !== undefined && !isIdentifier(identifier)) return { total: 0, resources: [], links: {}, limit: page.limit };
    const { total, rows } = await this.resources.list(caller.tenant.id, page);
    const { items, links } = pageOf(rows, page);
    return { total, resources: items, links, limit: page.limit };
  }

  async create(caller: Caller, input: NewApiResourceInput): Promise<ApiResource> {
    this.authorize(caller);
    checkNewResource(input);
    const scopes = scopesToDefine(input.scopes ?? []);
    const resource = {
      id: randomUUID(),
      identifier: input.identifier,
      name: input.name,
      description: input.description ?? null,
      requiresAuthorization: input.requiresAuthorization ?? true,
      type: BUSINESS_TYPE,
    };
    return this.resources.create(caller.tenant.id, resource, scopes).catch(conflicts);
  }

  async get(caller: Caller, id: string): Promise<ApiResource> {
    this.authorize(caller);
    return this.existing(caller, id);
  }

  async scopes(caller: Caller, id: string): Promise<ApiScope[]> {
    this.authorize(caller);
    return (await this.existing(caller, id)).scopes;
  }

  async patch(caller: Caller, id: string, input: ApiResourcePatchInput): Promise<void> {
    this.authorize(caller);
    checkResourceName(input.name);
    const addedScopes = scopesToDefine(input.addedScopes ?? []);
    const changes = {
      ...(input.name === undefined ? {} : { name: input.name }),
      ...(input.description == null ? {} : { description: input.description }),
      removedScopes: input.removedScopes ?? [],
      addedScopes,
    };
    const found = await this.resources.update(caller.tenant.id, id, changes).catch(conflicts);
    if (!found) throw apiResourceErrors.notFound(id);
  }

  /** IS's patchScopeMetadataByScopeName: a blank display name and a null description keep the stored ones. */
  async patchScope(caller: Caller, id: string, name: string, input: { displayName?: string | null; description?: string | null }): Promise<void> {
    this.authorize(caller);
    await this.existing(caller, id);
    const changes = {
      ...(input.displayName == null || input.displayName.trim() === '' ? {} : { displayName: input.displayName }),
      ...(input.description == null ? {} : { description: input.description }),
    };
    if (!isScopeName(name) || !(await this.resources.updateScope(caller.tenant.id, id, name, changes))) throw apiResourceErrors.scopeNotFound(id, name);
  }

  /** IS answers 204 whether or not there was a resource to delete. */
  async delete(caller: Caller, id: string): Promise<void> {
    this.authorize(caller);
    await this.resources.delete(caller.tenant.id, id);
  }

  /** 204 also for an unknown resource or scope, as IS answers. */
  async deleteScope(caller: Caller, id: string, name: string): Promise<void> {
    this.authorize(caller);
    if (isScopeName(name)) await this.resources.deleteScope(caller.tenant.id, id, name);
  }
}
