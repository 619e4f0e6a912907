import type { FastifyReply } from 'fastify';
import type { components, operations } from '../../../generated/platform-api.js';
import type { ApiResource, ApiResourceSummary, ApiScope } from '../../domain/api-resources.js';
import type { ApiResourceService } from '../../services/api-resources.js';
import { callerOf } from '../caller.js';
import type { OperationHandlers, OperationRequest } from './operations.js';

type Schemas = components['schemas'];

/** The path every resource's URL is built on, under the server root. */
export const API_RESOURCES_PATH = '/api/server/v1/api-resources';

function toScope(scope: ApiScope): Schemas['ApiScope'] {
  return { name: scope.name, displayName: scope.displayName, ...(scope.description === null ? {} : { description: scope.description }) };
}

function toResource(resource: ApiResource): Schemas['ApiResource'] {
  return {
    id: resource.id,
    identifier: resource.identifier,
    name: resource.name,
    ...(resource.description === null ? {} : { description: resource.description }),
    ...(resource.type === null ? {} : { type: resource.type }),
    requiresAuthorization: resource.requiresAuthorization,
    scopes: resource.scopes.map(toScope),
  };
}

/** IS's APIResourceListItem: no description and no scopes; `self` is the resource's path. */
function toListItem(resource: ApiResourceSummary): Schemas['ApiResourceListItem'] {
  return {
    id: resource.id,
    identifier: resource.identifier,
    name: resource.name,
    ...(resource.type === null ? {} : { type: resource.type }),
    requiresAuthorization: resource.requiresAuthorization,
    self: `${API_RESOURCES_PATH}/${resource.id}`,
  };
}

type ApiResourceOperations = Pick<
  operations,
  | 'listApiResources'
  | 'createApiResource'
  | 'getApiResource'
  | 'patchApiResource'
  | 'deleteApiResource'
  | 'listApiResourceScopes'
  | 'updateApiResourceScope'
  | 'deleteApiResourceScope'
>;

/** /api/server/v1/api-resources: WSO2 IS 7's API resources and scopes, for API Manager's Key Manager connector. */
export class ApiResourceHandlers implements OperationHandlers<ApiResourceOperations> {
  constructor(
    private readonly resources: ApiResourceService,
    /** DCR_PUBLIC_URL, that `Location` and the page links are built from (never the request's Host). */
    private readonly publicUrl: string,
  ) {}

  async listApiResources(request: OperationRequest<operations['listApiResources']>): Promise<Schemas['ApiResourceList']> {
    const { filter, limit, after, before } = request.query;
    const page = await this.resources.list(callerOf(request), {
      ...(filter === undefined ? {} : { filter }),
      ...(limit === undefined ? {} : { limit }),
      ...(after === undefined ? {} : { after }),
      ...(before === undefined ? {} : { before }),
    });
    // IS's links repeat the page's limit and filter beside the cursor.
    const link = (rel: 'next' | 'previous', cursor: string) => {
      const query = new URLSearchParams({ limit: String(page.limit) });
      if (filter !== undefined) query.set('filter', filter);
      query.set(rel === 'next' ? 'after' : 'before', cursor);
      return { href: `${this.publicUrl}${API_RESOURCES_PATH}?${query.toString()}`, rel };
    };
    return {
      totalResults: page.total,
      apiResources: page.resources.map(toListItem),
      links: [
        ...(page.links.next === undefined ? [] : [link('next', page.links.next)]),
        ...(page.links.previous === undefined ? [] : [link('previous', page.links.previous)]),
      ],
    };
  }

  async createApiResource(request: OperationRequest<operations['createApiResource']>, reply: FastifyReply): Promise<Schemas['ApiResource']> {
    const { identifier, name, description, requiresAuthorization, scopes } = request.body;
    const resource = await this.resources.create(callerOf(request), {
      identifier,
      name,
      ...(description === undefined ? {} : { description }),
      ...(requiresAuthorization === undefined ? {} : { requiresAuthorization }),
      ...(scopes === undefined ? {} : { scopes }),
    });
    reply.code(201).header('location', `${this.publicUrl}${API_RESOURCES_PATH}/${resource.id}`);
    return toResource(resource);
  }

  async getApiResource(request: OperationRequest<operations['getApiResource']>): Promise<Schemas['ApiResource']> {
    return toResource(await this.resources.get(callerOf(request), request.params.apiResourceId));
  }

  async patchApiResource(request: OperationRequest<operations['patchApiResource']>, reply: FastifyReply): Promise<undefined> {
    const { name, description, addedScopes, removedScopes } = request.body;
    await this.resources.patch(callerOf(request), request.params.apiResourceId, {
      ...(name === undefined ? {} : { name }),
      ...(description === undefined ? {} : { description }),
      ...(addedScopes === undefined ? {} : { addedScopes }),
      ...(removedScopes === undefined ? {} : { removedScopes }),
    });
    reply.code(204);
    return undefined;
  }

  async deleteApiResource(request: OperationRequest<operations['deleteApiResource']>, reply: FastifyReply): Promise<undefined> {
    await this.resources.delete(callerOf(request), request.params.apiResourceId);
    reply.code(204);
    return undefined;
  }

  async listApiResourceScopes(request: OperationRequest<operations['listApiResourceScopes']>): Promise<Schemas['ApiScope'][]> {
    return (await this.resources.scopes(callerOf(request), request.params.apiResourceId)).map(toScope);
  }

  async updateApiResourceScope(request: OperationRequest<operations['updateApiResourceScope']>, reply: FastifyReply): Promise<undefined> {
    const { displayName, description } = request.body;
    await this.resources.patchScope(callerOf(request), request.params.apiResourceId, request.params.scopeName, {
      ...(displayName === undefined ? {} : { displayName }),
      ...(description === undefined ? {} : { description }),
    });
    reply.code(204);
    return undefined;
  }

  async deleteApiResourceScope(request: OperationRequest<operations['deleteApiResourceScope']>, reply: FastifyReply): Promise<undefined> {
    await this.resources.deleteScope(callerOf(request), request.params.apiResourceId, request.params.scopeName);
    reply.code(204);
    return undefined;
  }
}
